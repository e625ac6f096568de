package kafka

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// keysFromKmsg is the table keys holds, asked of kmsg: every request's
// highest version and first flexible one.
func keysFromKmsg() [kmsg.MaxKey + 1]keyInfo {
	var t [kmsg.MaxKey + 1]keyInfo
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		r := kmsg.RequestForKey(k)
		if r == nil {
			continue
		}
		info := keyInfo{known: true, max: r.MaxVersion(), flexFrom: -1}
		for v := int16(0); v <= info.max; v++ {
			r.SetVersion(v)
			if r.IsFlexible() {
				info.flexFrom = v
				break
			}
		}
		t[k] = info
	}
	return t
}

// TestKeysTable: the table written out in keys.go is what kmsg says; when
// kmsg is upgraded, it prints the table to paste there.
func TestKeysTable(t *testing.T) {
	want := keysFromKmsg()
	if keys == want {
		return
	}
	var b strings.Builder
	for k, info := range want {
		if !info.known {
			continue
		}
		fmt.Fprintf(&b, "\t%d: {true, %d, %d}, // %s\n", k, info.max, info.flexFrom, kmsg.NameForKey(int16(k)))
	}
	t.Errorf("keys in keys.go differ from kmsg's requests; paste this in its place:\n%s", b.String())
}
