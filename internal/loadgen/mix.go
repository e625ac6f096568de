package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Mix is the share of each kind among the exchanges.
type Mix [numKinds]float64

// DefaultMix is half Produce, as a busy producer-heavy cluster sees.
var DefaultMix = Mix{Produce: 0.5, Fetch: 0.3, Metadata: 0.1, Heartbeat: 0.1}

// ParseMix reads "produce=0.5,fetch=0.3,metadata=0.1,heartbeat=0.1"; the
// shares need not add up to 1, kinds left out get none.
func ParseMix(s string) (Mix, error) {
	var m Mix
	total := 0.0
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return m, fmt.Errorf("mix %q: want kind=share, as produce=0.5", part)
		}
		k := Kind(-1)
		for i, n := range kindNames {
			if n == strings.TrimSpace(name) {
				k = Kind(i)
			}
		}
		if k < 0 {
			return m, fmt.Errorf("mix: unknown kind %q (produce, fetch, metadata, heartbeat)", name)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || f < 0 {
			return m, fmt.Errorf("mix: %s=%s is not a share", name, val)
		}
		m[k] = f
		total += f
	}
	if total <= 0 {
		return m, fmt.Errorf("mix %q: no exchanges", s)
	}
	for k := range m {
		m[k] /= total
	}
	return m, nil
}

func (m Mix) String() string {
	var parts []string
	for k, f := range m {
		if f > 0 {
			parts = append(parts, fmt.Sprintf("%s=%g", Kind(k), f))
		}
	}
	return strings.Join(parts, ",")
}

// sequence picks kinds in the mix's proportions, spread evenly (smooth
// weighted round robin), so that any run's counts match the mix to within
// one exchange of each kind.
type sequence struct {
	weight, current [numKinds]float64
}

func newSequence(m Mix) *sequence { return &sequence{weight: m} }

func (s *sequence) next() Kind {
	best := Kind(0)
	for k := range numKinds {
		s.current[k] += s.weight[k]
		if s.current[k] > s.current[best] {
			best = k
		}
	}
	s.current[best]--
	return best
}

// peek is the kind next returns, without taking it.
func (s *sequence) peek() Kind {
	c := *s
	return c.next()
}
