package retention

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Unlimited is retention.ms or retention.bytes -1: no limit (Kafka's
// LogConfig), the highest retention there is.
const Unlimited = -1

const day = 24 * time.Hour

// ParseDuration reads a retention time as milliseconds: a Go duration
// ("72h", "90m"), with d for days ("7d", "1d12h"), or "unlimited" (-1).
// It must be at least a millisecond: 0 would let Kafka delete every
// segment but the active one at once.
func ParseDuration(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if isUnlimited(s) {
		return Unlimited, nil
	}
	var d time.Duration
	rest := s
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		days, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || days < 0 || days > int64(math.MaxInt64/day) {
			return 0, fmt.Errorf("%q is not a retention time (e.g. 72h, 7d, unlimited)", s)
		}
		d, rest = time.Duration(days)*day, rest[i+1:]
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil || more < 0 || more > math.MaxInt64-d {
			return 0, fmt.Errorf("%q is not a retention time (e.g. 72h, 7d, unlimited)", s)
		}
		d += more
	}
	if d < time.Millisecond {
		return 0, fmt.Errorf("retention time %q is below a millisecond: Kafka would delete the topic's records at once", s)
	}
	return d.Milliseconds(), nil
}

// ParseBytes reads a retention size in bytes: a number ("1073741824"),
// with a decimal (KB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB) unit,
// any case ("50GiB", "500MB"), or "unlimited" (-1).
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if isUnlimited(s) {
		return Unlimited, nil
	}
	num, mult := s, int64(1)
	lower := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		// Longest first: "gib" before "b".
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1},
	} {
		if strings.HasSuffix(lower, u.suffix) {
			num, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a retention size (e.g. 50GiB, 500MB, 1073741824, unlimited)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("retention size %q is past 8 EiB", s)
	}
	return n * mult, nil
}

func isUnlimited(s string) bool {
	return strings.EqualFold(s, "unlimited") || s == "-1"
}

// FormatMs writes a retention.ms value as a person reads it: "7d",
// "36h", "90m", "unlimited"; other negative values as they are.
func FormatMs(ms int64) string {
	if ms == Unlimited {
		return "unlimited"
	}
	if ms < 0 || ms > int64(math.MaxInt64/time.Millisecond) {
		return strconv.FormatInt(ms, 10) + "ms"
	}
	d := time.Duration(ms) * time.Millisecond
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	// time.Duration writes 72h0m0s: leave out the zero units.
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// FormatBytes writes a retention.bytes value in the largest binary unit
// that divides it ("50GiB"), else in bytes; -1 as "unlimited".
func FormatBytes(n int64) string {
	if n == Unlimited {
		return "unlimited"
	}
	if n > 0 {
		for _, u := range []struct {
			suffix string
			size   int64
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if n%u.size == 0 {
				return strconv.FormatInt(n/u.size, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
