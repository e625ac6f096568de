//go:build linux && (amd64 || arm64)

package ebpf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"kscope/internal/testenv"
)

// TestEventHeaderParse: the parser reads each field where the kernel
// writes it, as struct event_hdr's generated Go type lays it out.
func TestEventHeaderParse(t *testing.T) {
	in := captureEventHdr{
		Ts: 0x0102030405060708, ConnId: 0x1112131415161718, Lost: 0x2122232425262728,
		Tgid: 0x31323334, Fd: -5, Size: 0, Kind: 5, Dir: 1, Flags: 0x4142,
		Family: 10, Lport: 9092, Rport: 54321, First: 0x5152,
	}
	for i := range 16 {
		in.Laddr[i], in.Raddr[i], in.Comm[i] = uint8(0x50+i), uint8(0x60+i), int8(0x20+i)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&in)), unsafe.Sizeof(in))
	h, ok := parseHdr(raw)
	if !ok {
		t.Fatal("parseHdr refused a whole header")
	}
	want := hdr{ts: in.Ts, connID: in.ConnId, lost: in.Lost, tgid: in.Tgid, fd: in.Fd, size: in.Size,
		kind: in.Kind, dir: in.Dir, flags: in.Flags, family: in.Family, lport: in.Lport, rport: in.Rport, first: in.First,
		laddr: in.Laddr, raddr: in.Raddr}
	for i, c := range in.Comm {
		want.comm[i] = byte(c)
	}
	if h != want {
		t.Fatalf("parsed\n%+v\nwant\n%+v", h, want)
	}
	if _, ok := parseHdr(raw[:hdrSize-1]); ok {
		t.Fatal("parseHdr accepted a short header")
	}
	in.Size = 10
	if _, ok := parseHdr(unsafe.Slice((*byte)(unsafe.Pointer(&in)), unsafe.Sizeof(in))); ok {
		t.Fatal("parseHdr accepted a header whose payload is missing")
	}
}

// TestSegmentsParse: a segmented event's payload as struct segment lays
// it out (skip, length, then the bytes) reads back as the runs that were
// put in, in order, and a payload cut short ends the list without
// reading past it.
func TestSegmentsParse(t *testing.T) {
	runs := []segment{{skip: 0, data: []byte("head")}, {skip: 4035, data: nil}, {skip: 1 << 40, data: []byte("batch header")}}
	var p []byte
	for _, r := range runs {
		g := captureSegment{Skip: r.skip, Len: uint32(len(r.data))}
		p = append(p, unsafe.Slice((*byte)(unsafe.Pointer(&g)), unsafe.Sizeof(g))...)
		p = append(p, r.data...)
	}
	got := parseSegments(nil, p)
	if len(got) != len(runs) {
		t.Fatalf("parsed %d segments, want %d", len(got), len(runs))
	}
	for i := range runs {
		if got[i].skip != runs[i].skip || string(got[i].data) != string(runs[i].data) {
			t.Errorf("segment %d: skip %d, %q; want skip %d, %q", i, got[i].skip, got[i].data, runs[i].skip, runs[i].data)
		}
	}
	if got := parseSegments(nil, p[:len(p)-1]); len(got) != len(runs)-1 {
		t.Errorf("a payload one byte short: %d segments, want %d", len(got), len(runs)-1)
	}
}

// FuzzSegments: any payload parses without reading past its end, and the
// segments' bytes are the payload's less their headers.
func FuzzSegments(f *testing.F) {
	g := captureSegment{Skip: 7, Len: 3}
	f.Add(append(unsafe.Slice((*byte)(unsafe.Pointer(&g)), unsafe.Sizeof(g)), "abc"...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		total := 0
		for _, s := range parseSegments(nil, p) {
			total += segSize + len(s.data)
		}
		if total > len(p) {
			t.Fatalf("segments of %d bytes out of a %d-byte payload", total, len(p))
		}
	})
}

// TestEveryProgramAttached: exits() names every program of the object
// but the raw sys_exit's, each with the tracepoint of its section, so a
// program added to capture.c cannot be loaded and never attached.
func TestEveryProgramAttached(t *testing.T) {
	spec, err := loadCapture()
	if err != nil {
		t.Fatal(err)
	}
	// Give each program field a distinct pointer, to see which one exits()
	// pairs with which syscall.
	var objs captureObjects
	byField := map[*ebpf.Program]string{}
	pv := reflect.ValueOf(&objs.capturePrograms).Elem()
	for i := range pv.NumField() {
		p := new(ebpf.Program)
		pv.Field(i).Set(reflect.ValueOf(p))
		byField[p] = pv.Type().Field(i).Tag.Get("ebpf")
	}
	var attached []string
	for _, x := range objs.exits() {
		name := byField[x.prog]
		if name != "exit_"+x.syscall {
			t.Errorf("exits() attaches program %q to sys_exit_%s", name, x.syscall)
		}
		ps := spec.Programs[name]
		if ps == nil {
			t.Errorf("exits() names %q, which the object does not have", name)
			continue
		}
		if want := "tracepoint/syscalls/sys_exit_" + x.syscall; ps.SectionName != want {
			t.Errorf("program %s is in section %s, attached as %s", name, ps.SectionName, want)
		}
		attached = append(attached, name)
	}
	if ps := spec.Programs[captureProgSysExit]; ps == nil || ps.SectionName != "tp_btf/sys_exit" {
		t.Errorf("no program %s in section tp_btf/sys_exit (HookRaw attaches it)", captureProgSysExit)
	}
	attached = append(attached, captureProgSysExit)
	for name := range spec.Programs {
		if !slices.Contains(attached, name) {
			t.Errorf("program %s is never attached: add it to exits()", name)
		}
	}
}

// TestObjectsPerArchitecture reads the committed objects: each reads the
// syscall arguments and number from its own architecture's registers (the
// pt_regs its CO-RE relocations name), and both carry the same programs.
func TestObjectsPerArchitecture(t *testing.T) {
	regs := map[string][]string{
		"capture_x86_bpfel.o":   {"di", "dx", "orig_ax", "si"},
		"capture_arm64_bpfel.o": {"orig_x0", "pstate", "regs", "syscallno"},
	}
	var programs [][]string
	for file, want := range regs {
		spec, err := ebpf.LoadCollectionSpec(file)
		if err != nil {
			t.Fatal(err)
		}
		var st *btf.Struct
		if err := spec.Types.TypeByName("pt_regs", &st); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var got []string
		for _, m := range st.Members {
			got = append(got, m.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: struct pt_regs has %v, want %v", file, got, want)
		}
		var names []string
		for name := range spec.Programs {
			names = append(names, name)
		}
		slices.Sort(names)
		programs = append(programs, names)
	}
	if !slices.Equal(programs[0], programs[1]) {
		t.Errorf("the objects have different programs: %v and %v", programs[0], programs[1])
	}
}

// TestSyscallsOnArm64: every syscall whose exit is traced exists on arm64,
// whose table (the generic one) lacks some x86-64 syscalls. The names are
// the SYSCALL_DEFINE names the tracepoints carry; golang.org/x/sys lists
// the arm64 table.
func TestSyscallsOnArm64(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	if err != nil {
		t.Skipf("go list golang.org/x/sys: %v", err)
	}
	table, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "unix", "zsysnum_linux_arm64.go"))
	if err != nil {
		t.Fatal(err)
	}
	var objs captureObjects
	for _, x := range objs.exits() {
		// sendfile64 is the syscall x86-64 and arm64 both call sendfile.
		name := strings.ToUpper(strings.TrimSuffix(x.syscall, "64"))
		if !regexp.MustCompile(`(?m)^\s*SYS_` + name + `\s+= \d+`).Match(table) {
			t.Errorf("sys_exit_%s: arm64 has no syscall SYS_%s", x.syscall, name)
		}
	}
}

// TestGeneratedUpToDate compiles bpf/ again with the go:generate line of
// gen.go (Debian's clang) and compares with the committed objects and Go
// files: what is committed is what the source builds.
func TestGeneratedUpToDate(t *testing.T) {
	testenv.Command(t, "clang", "clang")
	testenv.Command(t, "llvm-strip", "llvm")
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		testenv.Skip(t, "libbpf headers not installed (apt-get install libbpf-dev)")
	}
	gen, err := os.ReadFile("gen.go")
	if err != nil {
		t.Fatal(err)
	}
	const tool = "go run github.com/cilium/ebpf/cmd/bpf2go "
	var args []string
	for line := range strings.Lines(string(gen)) {
		if rest, ok := strings.CutPrefix(line, "//go:generate "+tool); ok {
			args = splitArgs(t, strings.TrimSpace(rest))
		}
	}
	if args == nil {
		t.Fatal("gen.go has no go:generate line running bpf2go")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bpf2go")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cilium/ebpf/cmd/bpf2go").CombinedOutput(); err != nil {
		t.Fatalf("build bpf2go: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "pkg")
	if err := os.CopyFS(filepath.Join(work, "bpf"), os.DirFS("bpf")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOPACKAGE=ebpf", "GOFILE=gen.go")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bpf2go: %v\n%s", err, out)
	}
	made, _ := filepath.Glob(filepath.Join(work, "capture_*"))
	committed, _ := filepath.Glob("capture_*")
	if len(made) == 0 || len(made) != len(committed) {
		t.Fatalf("bpf2go made %v; committed are %v", made, committed)
	}
	for _, m := range made {
		name := filepath.Base(m)
		a, _ := os.ReadFile(m)
		b, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("bpf2go made %s, which is not committed", name)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from what bpf/ builds: run go generate ./internal/capture/ebpf and commit the result", name)
		}
	}
}

// splitArgs splits a go:generate line as go generate does: on spaces,
// with double-quoted arguments.
func splitArgs(t *testing.T, s string) []string {
	var args []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				t.Fatalf("unterminated quote in %q", s)
			}
			args = append(args, s[1:end+1])
			s = s[end+2:]
			continue
		}
		arg, rest, _ := strings.Cut(s, " ")
		args = append(args, arg)
		s = rest
	}
	return args
}

// TestWalkStates: the twin's states are the kernel walker's (enum
// walk_state of bpf/walk.h, as bpf2go generated it).
func TestWalkStates(t *testing.T) {
	twin := []int{wOff, wSize, wHead, wCopy, wSkip, wEnd, wTags, wTag, wTagLen, pClient, pTxn, pTopics, pTopic, pParts, pPart, pRecs, pPartEnd, rBatch, rLen, rMagic, rBody, fTopics, fTopic, fParts, fPart, fAborted, fAbort, fPref, fRecs, fPartEnd, wName, fFixed}
	kernel := []captureWalkState{captureWalkStateW_OFF, captureWalkStateW_SIZE, captureWalkStateW_HEAD, captureWalkStateW_COPY, captureWalkStateW_SKIP, captureWalkStateW_END, captureWalkStateW_TAGS, captureWalkStateW_TAG, captureWalkStateW_TAGLEN, captureWalkStateP_CLIENT, captureWalkStateP_TXN, captureWalkStateP_TOPICS, captureWalkStateP_TOPIC, captureWalkStateP_PARTS, captureWalkStateP_PART, captureWalkStateP_RECS, captureWalkStateP_PART_END, captureWalkStateR_BATCH, captureWalkStateR_LEN, captureWalkStateR_MAGIC, captureWalkStateR_BODY, captureWalkStateF_TOPICS, captureWalkStateF_TOPIC, captureWalkStateF_PARTS, captureWalkStateF_PART, captureWalkStateF_ABORTED, captureWalkStateF_ABORT, captureWalkStateF_PREF, captureWalkStateF_RECS, captureWalkStateF_PART_END, captureWalkStateW_NAME, captureWalkStateF_FIXED}
	for i := range twin {
		if twin[i] != int(kernel[i]) {
			t.Errorf("state #%d: twin %d, kernel %d", i, twin[i], kernel[i])
		}
	}
}
