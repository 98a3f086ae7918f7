package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

// maxBody bounds the request body read.
const maxBody = 64 << 10

// Server is the simulator. It is an http.Handler and safe for concurrent
// use; tests drive its faults and read its record through methods.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	mu     sync.Mutex
	rooms  map[string]*room
	limit  *window
	faults faults
	calls  []Call
	rng    *rand.Rand
	seq    uint64
}

// New returns a simulator for cfg.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "roomengine-sim"),
		mux:   http.NewServeMux(),
		rooms: map[string]*room{},
		limit: newWindow(cfg.Limit, time.Second),
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	s.mux.HandleFunc(roomengine.LockSeatPath, s.handleLockSeat)
	s.mux.HandleFunc("GET /rooms/{id}/seats", s.handleSeats)
	s.mux.HandleFunc("POST /rooms/{id}", s.handleAddRoom)
	s.mux.HandleFunc("DELETE /rooms/{id}", s.handleRemoveRoom)
	s.mux.HandleFunc("POST /rooms/{id}/faults", s.handleFailRoom)
	return s, nil
}

// ServeHTTP routes to the API and the inspection endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) handleLockSeat(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	c, v := s.decide(r.Method, r.URL.Query(), raw)
	s.logCall(r.Context(), c, v)
	if c.Delay > 0 && !sleep(r.Context(), c.Delay) {
		return
	}
	if c.HTTPStatus != http.StatusOK {
		writeHTML(w, c.HTTPStatus)
		return
	}
	writeAnswer(w, v, c.RequestID)
}

// decide answers one call and records it.
func (s *Server) decide(method string, q url.Values, raw []byte) (Call, verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	c := Call{
		Time:       s.cfg.Now(),
		HTTPStatus: http.StatusOK,
		Delay:      s.faults.latency,
		RequestID:  fmt.Sprintf("Id-%016x-O-Seq-%d", s.rng.Uint64(), s.seq),
	}
	v := s.evaluate(&c, method, q, raw)
	c.Code = v.code
	s.record(c)
	return c, v
}

// evaluate runs the checks in the service's order: rate limit, query,
// usersig, body, injected faults, room state. Callers hold mu.
func (s *Server) evaluate(c *Call, method string, q url.Values, raw []byte) verdict {
	if !s.limit.allow(c.Time) {
		return fail(CodeFrequencyLimit, "request frequency limit exceeded")
	}
	ident, random, v := checkQuery(method, q, s.cfg.SDKAppID)
	c.Identifier, c.Random = ident, random
	if v.failed() {
		return v
	}
	if v := s.checkUserSig(q.Get("usersig"), ident, c.Time); v.failed() {
		return v
	}
	if v := parseBody(raw, c, s.cfg.Lenient); v.failed() {
		return v
	}
	if f, ok := s.pickFault(c.RoomID); ok {
		c.Delay += f.Delay
		switch {
		case f.HTTPStatus != 0:
			c.HTTPStatus = f.HTTPStatus
			return verdict{}
		case f.Code != 0:
			return fail(f.Code, "injected fault")
		}
	}
	return s.lockSeat(c)
}

// lockSeat applies a valid call to the room's seat. Callers hold mu.
func (s *Server) lockSeat(c *Call) verdict {
	r := s.rooms[c.RoomID]
	if r == nil {
		if !s.cfg.Lenient {
			return fail(CodeRoomNotFound, "room does not exist")
		}
		r = &room{seats: anySeat, state: map[int]*Seat{}}
		s.rooms[c.RoomID] = r
	}
	switch {
	case r.seats == 0:
		return fail(CodeSeatsNotSupported, "room does not support seats")
	case r.seats != anySeat && c.Index >= r.seats:
		return fail(CodeBadParameter, fmt.Sprintf("Index %d is out of range", c.Index))
	}
	r.apply(c.Index, c.ForbidTaken, c.ForbidVideo, c.ForbidAudio)
	return verdict{}
}

// logCall writes the call's one line; the usersig is never part of a Call.
func (s *Server) logCall(ctx context.Context, c Call, v verdict) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "lock_seat",
		slog.String("room_id", c.RoomID),
		slog.Int("index", c.Index),
		slog.String("forbid_taken", c.ForbidTaken.String()),
		slog.String("forbid_video", c.ForbidVideo.String()),
		slog.String("forbid_audio", c.ForbidAudio.String()),
		slog.String("identifier", c.Identifier),
		slog.Int("code", c.Code),
		slog.String("info", v.info),
		slog.Int("http_status", c.HTTPStatus),
		slog.Duration("delay", c.Delay),
		slog.String("request_id", c.RequestID))
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func writeAnswer(w http.ResponseWriter, v verdict, requestID string) {
	status := "OK"
	if v.failed() {
		status = "FAIL"
	}
	writeJSON(w, http.StatusOK, struct {
		ActionStatus string
		ErrorCode    int
		ErrorInfo    string
		RequestID    string `json:"RequestId"`
	}{status, v.code, v.info, requestID})
}

func writeHTML(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	fmt.Fprintf(w, "<html><head><title>%s</title></head><body><h1>%s</h1></body></html>\n", text, text)
}
