package sim

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name  string
		limit int
		times []int // ms after t0
		want  []bool
	}{
		{"under limit", 3, []int{0, 1, 2}, []bool{true, true, true}},
		{"burst", 2, []int{0, 0, 0, 999, 1000, 1000, 1000}, []bool{true, true, false, false, true, true, false}},
		{"spread", 2, []int{0, 600, 1000, 1200, 1599, 1600}, []bool{true, true, true, false, false, true}},
		{"zero", 0, []int{0, 5000}, []bool{false, false}},
		{"unlimited", -1, []int{0, 0, 0}, []bool{true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWindow(tc.limit, time.Second)
			for i, ms := range tc.times {
				if got := w.allow(at(ms)); got != tc.want[i] {
					t.Errorf("event %d at %dms: allow = %v, want %v", i, ms, got, tc.want[i])
				}
			}
		})
	}
}

func TestMaxInWindow(t *testing.T) {
	t0 := time.Unix(100, 0)
	calls := func(ms ...int) []Call {
		out := make([]Call, len(ms))
		for i, m := range ms {
			out[i] = Call{Time: t0.Add(time.Duration(m) * time.Millisecond)}
		}
		return out
	}
	tests := []struct {
		name  string
		calls []Call
		want  int
	}{
		{"none", nil, 0},
		{"one", calls(0), 1},
		{"edge excluded", calls(0, 1000), 1},
		{"just inside", calls(0, 999), 2},
		{"unsorted", calls(1500, 0, 700, 1200), 3},
		{"dense middle", calls(0, 100, 1050, 1060, 1070, 2000), 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := func(Call) bool { return true }
			if got := maxInWindow(tc.calls, time.Second, all); got != tc.want {
				t.Errorf("maxInWindow = %d, want %d", got, tc.want)
			}
		})
	}
}
