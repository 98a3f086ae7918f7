package sim

import "time"

// window admits at most limit events in any rolling span: an event at t
// is admitted when fewer than limit admitted events lie in (t-span, t].
// It keeps the last limit admission times in a ring.
type window struct {
	limit int
	span  time.Duration
	times []time.Time
	next  int // index of the oldest time once the ring is full
}

func newWindow(limit int, span time.Duration) *window {
	return &window{limit: limit, span: span, times: make([]time.Time, 0, max(limit, 0))}
}

// allow admits an event at now if the window has room, and records it.
func (w *window) allow(now time.Time) bool {
	if w.limit < 0 {
		return true
	}
	if len(w.times) < w.limit {
		w.times = append(w.times, now)
		return true
	}
	if w.limit == 0 || now.Sub(w.times[w.next]) < w.span {
		return false
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % w.limit
	return true
}
