package sim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

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

// handleFailRoom makes a room flaky over HTTP, as FailRoom does, for a
// simulator running as its own process: POST
// /rooms/{id}/faults?calls=N answers the room's next N calls with
// ErrorCode 100001, or with &code=C that code, or with &http_status=S
// that HTTP status instead; &delay=D (a Go duration, up to a minute)
// holds each of those answers back D. It replaces the room's earlier
// fault.
func (s *Server) handleFailRoom(w http.ResponseWriter, r *http.Request) {
	f, n, err := parseRoomFault(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	id := r.PathValue("id")
	s.FailRoom(id, n, f)
	writeJSON(w, http.StatusOK, map[string]any{"RoomId": id, "Calls": n, "Code": f.Code, "HTTPStatus": f.HTTPStatus,
		"Delay": f.Delay.String()})
}

// parseRoomFault reads the query of POST /rooms/{id}/faults.
func parseRoomFault(q url.Values) (Fault, int, error) {
	num := func(key string, lo, hi int) (int, error) {
		n, err := strconv.Atoi(q.Get(key))
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%s must be an integer from %d to %d, got %q", key, lo, hi, q.Get(key))
		}
		return n, nil
	}
	n, err := num("calls", 1, 1_000_000)
	if err != nil {
		return Fault{}, 0, err
	}
	f := Fault{Code: CodeInternal}
	switch code, status := q.Has("code"), q.Has("http_status"); {
	case code && status:
		return Fault{}, 0, errors.New("give code or http_status, not both")
	case status:
		f.Code = 0
		if f.HTTPStatus, err = num("http_status", 400, 599); err != nil {
			return Fault{}, 0, err
		}
	case code:
		if f.Code, err = num("code", 1, 1<<31-1); err != nil {
			return Fault{}, 0, err
		}
	}
	if q.Has("delay") {
		d, err := time.ParseDuration(q.Get("delay"))
		if err != nil || d <= 0 || d > maxFaultDelay {
			return Fault{}, 0, fmt.Errorf("delay must be a duration above 0 and at most %v, got %q", maxFaultDelay, q.Get("delay"))
		}
		f.Delay = d
	}
	return f, n, nil
}

// maxFaultDelay bounds the delay of a fault posted over HTTP.
const maxFaultDelay = time.Minute
