package daemontest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
)

// Helpers for the tests of state and timed actions: a NATS server that
// stops answering without closing a connection, the simulator's seat
// state and per-room faults over HTTP, and resident memory.

// Pid is the running server's process id (0 when stopped).
func (s *NATSServer) Pid() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// Freeze stops the server process with SIGSTOP: its connections stay
// open, but nothing it should answer is answered (a hung server, not a
// dead one) until Thaw. The test's end thaws it before killing it.
func (s *NATSServer) Freeze() {
	s.t.Helper()
	if s.proc == nil {
		s.t.Fatal("nats-server: not running")
	}
	p := s.proc
	s.t.Cleanup(func() { p.Signal(syscall.SIGCONT) })
	p.Signal(syscall.SIGSTOP)
}

// Thaw resumes a server stopped by Freeze (SIGCONT).
func (s *NATSServer) Thaw() {
	s.t.Helper()
	if s.proc == nil {
		s.t.Fatal("nats-server: not running")
	}
	s.proc.Signal(syscall.SIGCONT)
}

// simClient is the HTTP client of the simulator's inspection and fault
// endpoints; it keeps connections alive (bodies are read to the end).
var simClient = &http.Client{Timeout: 10 * time.Second}

// simDo sends one request to the simulator and reads the answer.
func (s *SimProcess) simDo(method, path string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		s.t.Fatalf("simulator: %s %s: %v", method, path, err)
	}
	resp, err := simClient.Do(req)
	if err != nil {
		s.t.Fatalf("simulator: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("simulator: %s %s: read answer: %v", method, path, err)
	}
	return resp.StatusCode, body
}

// CreateRooms creates rooms with sim.DefaultSeats seats, as AddRooms
// does, over kept-alive connections: fast enough for thousands.
func (s *SimProcess) CreateRooms(ids ...string) {
	s.t.Helper()
	for _, id := range ids {
		if status, body := s.simDo(http.MethodPost, "/rooms/"+url.PathEscape(id)); status != http.StatusCreated {
			s.t.Fatalf("simulator: add room %s: status %d %s", id, status, body)
		}
	}
}

// Seat returns one seat's lock state from GET /rooms/{id}/seats (all
// flags false for a seat never locked).
func (s *SimProcess) Seat(room string, index int) sim.Seat {
	s.t.Helper()
	status, body := s.simDo(http.MethodGet, "/rooms/"+url.PathEscape(room)+"/seats")
	if status != http.StatusOK {
		s.t.Fatalf("simulator: seats of %s: status %d %s", room, status, body)
	}
	var seats struct{ SeatList []sim.Seat }
	if err := json.Unmarshal(body, &seats); err != nil {
		s.t.Fatalf("simulator: seats of %s: %v", room, err)
	}
	for _, st := range seats.SeatList {
		if st.Index == index {
			return st
		}
	}
	return sim.Seat{Index: index}
}

// FailRoom makes the room's next calls calls fail with ErrorCode code
// (POST /rooms/{id}/faults), replacing its earlier fault.
func (s *SimProcess) FailRoom(room string, calls, code int) {
	s.t.Helper()
	path := fmt.Sprintf("/rooms/%s/faults?calls=%d&code=%d", url.PathEscape(room), calls, code)
	if status, body := s.simDo(http.MethodPost, path); status != http.StatusOK {
		s.t.Fatalf("simulator: fail room %s: status %d %s", room, status, body)
	}
}

// FailRoomDelayed is FailRoom with each failing answer held back delay
// (&delay=): the call is recorded when it arrives, answered later.
func (s *SimProcess) FailRoomDelayed(room string, calls, code int, delay time.Duration) {
	s.t.Helper()
	path := fmt.Sprintf("/rooms/%s/faults?calls=%d&code=%d&delay=%s", url.PathEscape(room), calls, code, delay)
	if status, body := s.simDo(http.MethodPost, path); status != http.StatusOK {
		s.t.Fatalf("simulator: fail room %s: status %d %s", room, status, body)
	}
}

// flagCallLine is the part of the simulator's lock_seat log line that
// FlagCalls reads.
type flagCallLine struct {
	simLogLine
	ForbidTaken string `json:"forbid_taken"`
	ForbidVideo string `json:"forbid_video"`
	ForbidAudio string `json:"forbid_audio"`
}

// FlagCalls is Calls with the flags each call set (ForbidTaken,
// ForbidVideo, ForbidAudio): a lock sets a flag true, an unlock false.
func (s *SimProcess) FlagCalls() []sim.Call {
	var out []sim.Call
	sc := bufio.NewScanner(strings.NewReader(s.Output.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l flagCallLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "lock_seat" {
			continue
		}
		out = append(out, sim.Call{Time: l.Time, RoomID: l.RoomID, Index: l.Index, Identifier: l.Identifier,
			Code: l.Code, HTTPStatus: l.HTTPStatus, RequestID: l.RequestID,
			ForbidTaken: flagOf(l.ForbidTaken), ForbidVideo: flagOf(l.ForbidVideo), ForbidAudio: flagOf(l.ForbidAudio)})
	}
	return out
}

// flagOf reads engine.Flag's String form.
func flagOf(s string) engine.Flag {
	switch s {
	case "true":
		return engine.True
	case "false":
		return engine.False
	}
	return engine.Unset
}

// SubjectMessages counts the messages stream holds on subjects matching
// filter (such as the undo stream's roomwarden.undo.due.>).
func SubjectMessages(t testing.TB, js jetstream.JetStream, stream, filter string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// RunningTime is when the daemon logged "roomwarden running" (its time
// attribute), or the zero time if it has not.
func (d *Daemon) RunningTime() time.Time {
	sc := bufio.NewScanner(strings.NewReader(d.Output.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "roomwarden running" {
			return line.Time
		}
	}
	return time.Time{}
}
