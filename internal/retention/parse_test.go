package retention

import (
	"math"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"50GiB", 50 << 30, true},
		{"500MB", 500_000_000, true},
		{"1073741824", 1 << 30, true},
		{"1 TiB", 1 << 40, true},
		{"64kib", 64 << 10, true},
		{"3KB", 3000, true},
		{"100B", 100, true},
		{"unlimited", Unlimited, true},
		{"-1", Unlimited, true},
		{"", 0, false},
		{"0", 0, false},
		{"-5GiB", 0, false},
		{"1.5GiB", 0, false},
		{"GiB", 0, false},
		{"50 apples", 0, false},
		{"9223372036854775807", math.MaxInt64, true},
		{"9000000TiB", 0, false}, // past int64
	} {
		got, err := ParseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"72h", 72 * 3600_000, true},
		{"7d", 7 * 86400_000, true},
		{"1d12h", 36 * 3600_000, true},
		{"90m", 90 * 60_000, true},
		{"1500ms", 1500, true},
		{"unlimited", Unlimited, true},
		{"-1", Unlimited, true},
		{"", 0, false},
		{"0", 0, false},
		{"0d", 0, false},
		{"500us", 0, false}, // below a millisecond: everything goes
		{"-72h", 0, false},
		{"-3d", 0, false},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"7days", 0, false},
		{"72", 0, false}, // a unit is required: hours? milliseconds?
		{"200000d", 0, false},
	} {
		got, err := ParseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		key  string
		v    int64
		want string
	}{
		{KeyMs, 604800000, "7d"},
		{KeyMs, 72 * 3600_000, "3d"},
		{KeyMs, 25 * 3600_000, "25h"},
		{KeyMs, 90 * 60_000, "1h30m"},
		{KeyMs, 1500, "1.5s"},
		{KeyMs, Unlimited, "unlimited"},
		{KeyBytes, 50 << 30, "50GiB"},
		{KeyBytes, 500_000_000, "500000000B"},
		{KeyBytes, 1536 << 10, "1536KiB"},
		{KeyBytes, Unlimited, "unlimited"},
	} {
		if got := Format(c.key, c.v); got != c.want {
			t.Errorf("Format(%s, %d) = %q, want %q", c.key, c.v, got, c.want)
		}
	}
}

// What parses is unlimited or positive, and reads back the same once
// formatted.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"50GiB", "500MB", "1073741824", "unlimited", "-1", "1 kib", "0", "9000000TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			return
		}
		if n != Unlimited && n <= 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
		if back, err := ParseBytes(FormatBytes(n)); err != nil || back != n {
			t.Fatalf("ParseBytes(%q) = %d, formatted %q, read back %d, %v", s, n, FormatBytes(n), back, err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"72h", "7d", "1d12h", "90m", "1500ms", "unlimited", "-1", "0d", "200000d", "1d-5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseDuration(s)
		if err != nil {
			return
		}
		if ms != Unlimited && ms <= 0 {
			t.Fatalf("ParseDuration(%q) = %d", s, ms)
		}
		if back, err := ParseDuration(FormatMs(ms)); err != nil || back != ms {
			t.Fatalf("ParseDuration(%q) = %d, formatted %q, read back %d, %v", s, ms, FormatMs(ms), back, err)
		}
	})
}
