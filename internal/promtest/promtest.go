// Package promtest reads metrics back from a Prometheus registry in
// tests.
package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Value returns the value of the counter or gauge name, of the first
// series carrying every label of pairs (name, value, name, value...),
// and whether there is one. With no pairs, the first series matches.
func Value(t testing.TB, g prometheus.Gatherer, name string, pairs ...string) (float64, bool) {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatalf("promtest: label pairs %q: want name, value, ...", pairs)
	}
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("promtest: gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, pairs) {
				if c := m.GetCounter(); c != nil {
					return c.GetValue(), true
				}
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// MustValue is Value, failing the test if no series matches.
func MustValue(t testing.TB, g prometheus.Gatherer, name string, pairs ...string) float64 {
	t.Helper()
	v, ok := Value(t, g, name, pairs...)
	if !ok {
		t.Fatalf("promtest: no series %s%q", name, pairs)
	}
	return v
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
