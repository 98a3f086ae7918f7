package sim

import "time"

// Fault is an injected misbehaviour. Code answers that ErrorCode (HTTP
// 200); HTTPStatus answers that status with an HTML body instead; Delay
// holds the answer back. A Fault with only a Delay lets the call through,
// late.
type Fault struct {
	Code       int
	HTTPStatus int
	Delay      time.Duration
}

// counted is a fault for the next n calls.
type counted struct {
	n     int
	fault Fault
}

// rated is a fault for a fraction of calls.
type rated struct {
	rate  float64
	fault Fault
}

// faults is the injection state. The Server's mu guards it.
type faults struct {
	next    []counted
	rooms   map[string]*counted
	rates   []rated
	latency time.Duration
}

// FailNext applies f to the next n calls (after any earlier FailNext).
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.next = append(s.faults.next, counted{n: n, fault: f})
}

// FailRate applies f to each call with probability rate, sampled from the
// seeded source. Several rates are tried in the order they were added.
func (s *Server) FailRate(rate float64, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rates = append(s.faults.rates, rated{rate: rate, fault: f})
}

// FailRoom makes room flaky: its next n calls get f.
func (s *Server) FailRoom(roomID string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.rooms == nil {
		s.faults.rooms = map[string]*counted{}
	}
	s.faults.rooms[roomID] = &counted{n: n, fault: f}
}

// SetLatency adds d to every answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// ClearFaults removes every injected fault and the added latency.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faults{}
}

// pick returns the fault for a call to room: the next counted fault, else
// the room's, else a sampled rate. Callers hold mu.
func (s *Server) pickFault(room string) (Fault, bool) {
	if len(s.faults.next) > 0 {
		c := &s.faults.next[0]
		f := c.fault
		if c.n--; c.n <= 0 {
			s.faults.next = s.faults.next[1:]
		}
		return f, true
	}
	if c := s.faults.rooms[room]; c != nil {
		if c.n--; c.n <= 0 {
			delete(s.faults.rooms, room)
		}
		return c.fault, true
	}
	for _, r := range s.faults.rates {
		if s.rng.Float64() < r.rate {
			return r.fault, true
		}
	}
	return Fault{}, false
}
