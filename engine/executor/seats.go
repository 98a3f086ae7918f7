package executor

import (
	"fmt"
	"strconv"
	"sync"
)

// Calls on one seat run one at a time. Without this, an unlock that
// ends a timed lock and a newer lock on the same seat could be in flight
// together and reach the Room Engine in either order: the newer lock
// would be undone by the unlock that was meant for the older one. With
// it, a call starts only once the seat's previous call has ended and its
// outcome has been reported (its done func, which records a lock, has
// returned), so the unlock's Still hook, asked right before its call,
// sees the newer lock. A call that finds its seat busy is parked, not
// waited for on a worker, and goes back to the workers when the seat is
// free.
type seatTurns struct {
	mu     sync.Mutex
	busy   map[string]bool
	parked map[string][]*execCall
}

func newSeatTurns() *seatTurns {
	return &seatTurns{busy: make(map[string]bool), parked: make(map[string][]*execCall)}
}

// seatOf is the seat a call acts on.
func seatOf(c *execCall) string {
	return c.key.params.RoomID + "\x00" + strconv.Itoa(c.key.params.Index)
}

// take gives c its seat's turn and reports true, or parks c until the
// seat is free and reports false.
func (s *seatTurns) take(c *execCall) bool {
	seat := seatOf(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[seat] {
		s.parked[seat] = append(s.parked[seat], c)
		return false
	}
	s.busy[seat] = true
	return true
}

// give ends c's turn and returns the call parked first on its seat, if
// any, which the caller must hand back to the workers.
func (s *seatTurns) give(c *execCall) *execCall {
	seat := seatOf(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, seat)
	q := s.parked[seat]
	if len(q) == 0 {
		return nil
	}
	next := q[0]
	q[0] = nil
	if len(q) == 1 {
		delete(s.parked, seat)
	} else {
		s.parked[seat] = q[1:]
	}
	return next
}

// takeTurn is attempt's first step: it reports whether c may run now;
// if not, c is parked and runs once its seat is free.
func (e *Executor) takeTurn(c *execCall) bool {
	if e.seats.take(c) {
		return true
	}
	e.log.Debug("seat busy with another call; this one waits its turn", "room_id", c.key.params.RoomID,
		"index", c.key.params.Index)
	return false
}

// endTurn ends c's turn on its seat and hands the next parked call back
// to the workers, as a retry due now (no attempt is spent).
func (e *Executor) endTurn(c *execCall) {
	next := e.seats.give(c)
	if next == nil {
		return
	}
	if !e.scheduleRetry(next, 0) {
		e.abandon(next, fmt.Errorf("%w: waiting for its seat at shutdown", ErrStopped))
	}
}
