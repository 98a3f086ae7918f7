package engine

import (
	"sync"
	"time"
)

// tripLogEvery is how often a tripped rule is logged again while its
// actions keep arriving.
const tripLogEvery = time.Minute

// tripLog says when a rule's trip is worth an ERROR line: the first time
// it is seen, and then at most once per tripLogEvery, so a tripped rule
// on a busy stream does not flood the log.
type tripLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *tripLog) first(rule string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = make(map[string]time.Time)
	}
	if t, ok := l.last[rule]; ok && now.Sub(t) < tripLogEvery {
		return false
	}
	l.last[rule] = now
	return true
}
