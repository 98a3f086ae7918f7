package sim

import (
	"slices"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// Call is one lock_seat request as the simulator saw and answered it.
type Call struct {
	Time        time.Time // arrival
	Identifier  string
	Random      uint32
	RoomID      string
	Index       int
	ForbidTaken engine.Flag
	ForbidVideo engine.Flag
	ForbidAudio engine.Flag
	Code        int // the ErrorCode answered; 0 for OK or an HTTP fault
	HTTPStatus  int // 200, or the injected fault's status
	Delay       time.Duration
	RequestID   string
}

// Throttled reports whether the call was refused by the rate limit.
func (c Call) Throttled() bool { return c.Code == CodeFrequencyLimit }

// Calls returns a copy of the call record, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls empties the call record (not the rate-limit window).
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// record appends c, dropping the oldest half when the record is full.
// Callers hold mu.
func (s *Server) record(c Call) {
	if len(s.calls) >= s.cfg.MaxCalls {
		s.calls = slices.Delete(s.calls, 0, len(s.calls)/2)
	}
	s.calls = append(s.calls, c)
}

// MaxInWindow is the most accepted calls (all but those refused with
// 60007) whose arrivals fall in any half-open window [t, t+window).
func (s *Server) MaxInWindow(window time.Duration) int {
	return maxInWindow(s.Calls(), window, func(c Call) bool { return !c.Throttled() })
}

// MaxReceivedInWindow is the most calls of any answer whose arrivals fall
// in any half-open window [t, t+window): what the client sent.
func (s *Server) MaxReceivedInWindow(window time.Duration) int {
	return MaxReceivedIn(s.Calls(), window)
}

// MaxReceivedIn is MaxReceivedInWindow over any calls, such as those of
// a simulator in another process, read from its call log.
func MaxReceivedIn(calls []Call, window time.Duration) int {
	return maxInWindow(calls, window, func(Call) bool { return true })
}

func maxInWindow(calls []Call, window time.Duration, keep func(Call) bool) int {
	var times []time.Time
	for _, c := range calls {
		if keep(c) {
			times = append(times, c.Time)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi, t := range times {
		for t.Sub(times[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
