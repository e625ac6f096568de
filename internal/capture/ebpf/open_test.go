package ebpf

import (
	"os"
	"testing"

	"kscope/internal/testenv"
)

func TestOpenClose(t *testing.T) {
	testenv.Root(t)
	s, err := Open(Options{PIDs: []uint32{uint32(os.Getpid())}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
