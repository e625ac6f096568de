//go:build linux && (amd64 || arm64)

package ebpf

import "testing"

// eachHook runs f once with the programs on each hook: the raw sys_exit
// tracepoint and the syscall tracepoints must see the same syscalls.
func eachHook(t *testing.T, f func(t *testing.T, opts Options)) {
	for _, h := range []Hook{HookRaw, HookTracepoints} {
		t.Run(string(h), func(t *testing.T) { f(t, Options{Hook: h}) })
	}
}

func TestParseHook(t *testing.T) {
	for in, want := range map[string]Hook{"": "", "raw": HookRaw, "tracepoints": HookTracepoints} {
		if got, err := ParseHook(in); err != nil || got != want {
			t.Errorf("ParseHook(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseHook("kprobe"); err == nil {
		t.Error("ParseHook(kprobe): no error")
	}
}

// TestDefaultHook: Open with no hook uses the raw sys_exit tracepoint on
// this kernel, which has tp_btf, and says so.
func TestDefaultHook(t *testing.T) {
	col := collect(t, Options{})
	if h, why := col.src.Hook(); h != HookRaw || why != nil {
		t.Errorf("Hook() = %s, %v; want %s", h, why, HookRaw)
	}
}
