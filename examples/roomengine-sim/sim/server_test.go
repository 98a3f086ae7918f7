package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/fakeclock"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

func TestSeatStateMergesFlags(t *testing.T) {
	f := newFixture(t)
	f.sim.AddRoom("room-test", 4)
	c := f.client(t)
	steps := []engine.LockSeat{
		{RoomID: "room-test", Index: 2, ForbidAudio: engine.True},
		{RoomID: "room-test", Index: 2, ForbidTaken: engine.True},
		{RoomID: "room-test", Index: 2, ForbidAudio: engine.False, ForbidVideo: engine.True},
		{RoomID: "room-test", Index: 0, ForbidVideo: engine.False},
	}
	for _, p := range steps {
		if got := code(t, c, p); got != 0 {
			t.Fatalf("lock_seat %+v: code %d", p, got)
		}
	}
	status, seats := f.seatsOf(t, "room-test")
	want := []Seat{
		{Index: 0},
		{Index: 2, IsTakenDisabled: true, IsVideoDisabled: true, IsAudioDisabled: false},
	}
	if status != http.StatusOK || len(seats) != len(want) || seats[0] != want[0] || seats[1] != want[1] {
		t.Errorf("GET seats = %d %+v, want 200 %+v", status, seats, want)
	}
	if status, _ := f.seatsOf(t, "never-used"); status != http.StatusNotFound {
		t.Errorf("GET seats of an unknown room = %d, want 404", status)
	}
}

// TestRooms: by default a room must be created first, with seats, and
// Index must be one of them, as the real API answers.
func TestRooms(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for _, path := range []string{"/rooms/made-by-http?seats=4", "/rooms/default-seats"} {
		resp, err := http.Post(f.ts.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s = %d, want 201", path, resp.StatusCode)
		}
	}
	for _, bad := range []string{"/rooms/x?seats=-1", "/rooms/x?seats=two"} {
		resp, err := http.Post(f.ts.URL+bad, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s = %d, want 400", bad, resp.StatusCode)
		}
	}
	f.sim.AddRoom("no-seats", 0)
	f.sim.AddRoom("gone", DefaultSeats)
	f.sim.RemoveRoom("gone")
	tests := []struct {
		name string
		p    engine.LockSeat
		want int
	}{
		{"unknown room", engine.LockSeat{RoomID: "nope", Index: 1, ForbidTaken: engine.True}, CodeRoomNotFound},
		{"created over http", engine.LockSeat{RoomID: "made-by-http", Index: 3, ForbidTaken: engine.True}, 0},
		{"index out of range", engine.LockSeat{RoomID: "made-by-http", Index: 4, ForbidTaken: engine.True}, CodeBadParameter},
		{"room without seats", engine.LockSeat{RoomID: "no-seats", Index: 0, ForbidTaken: engine.True}, CodeSeatsNotSupported},
		{"destroyed room", engine.LockSeat{RoomID: "gone", Index: 0, ForbidTaken: engine.True}, CodeRoomNotFound},
		{"last default seat", engine.LockSeat{RoomID: "default-seats", Index: DefaultSeats - 1, ForbidTaken: engine.True}, 0},
		{"past the default seats", engine.LockSeat{RoomID: "default-seats", Index: DefaultSeats, ForbidTaken: engine.True}, CodeBadParameter},
		{"index in the millions", engine.LockSeat{RoomID: "default-seats", Index: 4_000_000, ForbidTaken: engine.True}, CodeBadParameter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(t, c, tc.p); got != tc.want {
				t.Errorf("code = %d, want %d", got, tc.want)
			}
		})
	}
	if seats, ok := f.sim.Seats("made-by-http"); !ok || len(seats) != 1 || !seats[0].IsTakenDisabled {
		t.Errorf("Seats = %+v %v, want seat 3 locked", seats, ok)
	}
	if _, ok := f.sim.Seats("nope"); ok {
		t.Error("a call created an unknown room")
	}
}

// TestLenient: a lenient simulator accepts what a strict one refuses,
// and creates rooms on first use.
func TestLenient(t *testing.T) {
	tests := []struct {
		name  string
		ident string
		body  string
	}{
		{"field names in another case", testAdmin, `{"roomid":"new-1","index":1}`},
		{"unknown field", testAdmin, `{"RoomId":"new-2","Index":1,"Extra":true}`},
		{"field given twice", testAdmin, `{"RoomId":"x","RoomId":"new-3","Index":1}`},
		{"not an admin", "u1", `{"RoomId":"new-4","Index":1}`},
		{"index in the millions", testAdmin, `{"RoomId":"new-5","Index":4000000}`},
	}
	for _, lenient := range []bool{false, true} {
		f := newFixture(t, func(c *Config) { c.Lenient = lenient })
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s lenient=%v", tc.name, lenient), func(t *testing.T) {
				q := f.goodQuery(t)
				sig, err := roomengine.GenUserSig([]byte(testKey), testApp, tc.ident, f.clock.Now(), time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				q.Set("identifier", tc.ident)
				q.Set("usersig", sig)
				a := f.do(t, rawCall{method: "POST", query: q, body: tc.body})
				if lenient && a.ErrorCode != 0 {
					t.Errorf("lenient: answer %+v, want OK", a)
				}
				if !lenient && a.ErrorCode == 0 {
					t.Errorf("strict: answer %+v, want a refusal", a)
				}
			})
		}
		if _, ok := f.sim.Seats("new-5"); ok != lenient {
			t.Errorf("lenient=%v: room created on first use = %v", lenient, ok)
		}
	}
}

// TestDefaultAdmin: without Config.Admins only DefaultAdmin may call.
func TestDefaultAdmin(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		ident string
		want  int
	}{{DefaultAdmin, 0}, {"administrator2", CodeAdminRequired}, {"Administrator", CodeAdminRequired}} {
		c := f.client(t, func(c *roomengine.Config) { c.Identifier = tc.ident })
		if got := code(t, c, engine.LockSeat{RoomID: testRoom, Index: 1, ForbidAudio: engine.True}); got != tc.want {
			t.Errorf("identifier %q: code %d, want %d", tc.ident, got, tc.want)
		}
	}
}

func TestRejectsBadRequests(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Admins = []string{testAdmin, "other-admin"} })
	sigFor := func(key string, app uint64, id string, at time.Time) string {
		s, err := roomengine.GenUserSig([]byte(key), app, id, at, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := f.clock.Now()
	const body = `{"RoomId":"r","Index":1,"ForbidAudio":true}`
	tests := []struct {
		name   string
		method string
		set    map[string]string // query edits; "" deletes
		body   string
		want   int
	}{
		{"valid", "POST", nil, body, 0},
		{"GET", "GET", nil, body, CodeHTTPParse},
		{"no random", "POST", map[string]string{"random": ""}, body, CodeBadQuery},
		{"random over uint32", "POST", map[string]string{"random": "4294967296"}, body, CodeBadQuery},
		{"random negative", "POST", map[string]string{"random": "-1"}, body, CodeBadQuery},
		{"random max", "POST", map[string]string{"random": "4294967295"}, body, 0},
		{"contenttype xml", "POST", map[string]string{"contenttype": "xml"}, body, CodeBadQuery},
		{"no identifier", "POST", map[string]string{"identifier": ""}, body, CodeBadQuery},
		{"no usersig", "POST", map[string]string{"usersig": ""}, body, CodeBadQuery},
		{"sdkappid not a number", "POST", map[string]string{"sdkappid": "x"}, body, CodeBadQuery},
		{"other sdkappid", "POST", map[string]string{"sdkappid": "1400000001"}, body, CodeInvalidApp},
		{"usersig garbage", "POST", map[string]string{"usersig": "eJxnot-a-sig"}, body, CodeUserSigIllegal},
		{"usersig other key", "POST", map[string]string{"usersig": sigFor("wrong", testApp, testAdmin, now)}, body, CodeUserSigKey},
		{"usersig expired", "POST", map[string]string{"usersig": sigFor(testKey, testApp, testAdmin, now.Add(-2*time.Hour))}, body, CodeUserSigExpired},
		{"usersig other identifier", "POST", map[string]string{"usersig": sigFor(testKey, testApp, "other-admin", now)}, body, CodeUserSigIdentifier},
		{"usersig other app", "POST", map[string]string{"usersig": sigFor(testKey, 99, testAdmin, now)}, body, CodeUserSigAppID},
		{"not an admin", "POST", map[string]string{"identifier": "u1", "usersig": sigFor(testKey, testApp, "u1", now)}, body, CodeAdminRequired},
		{"body not json", "POST", nil, "RoomId=r", CodeBadJSON},
		{"empty body", "POST", nil, "", CodeBadJSON},
		{"no RoomId", "POST", nil, `{"Index":1}`, CodeBadParameter},
		{"empty RoomId", "POST", nil, `{"RoomId":"","Index":1}`, CodeBadParameter},
		{"RoomId a number", "POST", nil, `{"RoomId":5,"Index":1}`, CodeBadParameter},
		{"no Index", "POST", nil, `{"RoomId":"r"}`, CodeBadParameter},
		{"fractional Index", "POST", nil, `{"RoomId":"r","Index":2.5}`, CodeBadParameter},
		{"negative Index", "POST", nil, `{"RoomId":"r","Index":-1}`, CodeBadParameter},
		{"string flag", "POST", nil, `{"RoomId":"r","Index":1,"ForbidAudio":"yes"}`, CodeBadParameter},
		{"RoomId in lower case", "POST", nil, `{"roomid":"r","Index":1}`, CodeBadParameter},
		{"Index in lower case", "POST", nil, `{"RoomId":"r","index":1}`, CodeBadParameter},
		{"ForbidAudio in upper case", "POST", nil, `{"RoomId":"r","Index":1,"FORBIDAUDIO":true}`, CodeBadParameter},
		{"unknown field", "POST", nil, `{"RoomId":"r","Index":1,"ForbidChat":true}`, CodeBadParameter},
		{"field given twice", "POST", nil, `{"RoomId":"r","Index":1,"Index":2}`, CodeBadParameter},
		{"body an array", "POST", nil, `[{"RoomId":"r","Index":1}]`, CodeBadParameter},
		{"body a string", "POST", nil, `"r"`, CodeBadParameter},
		{"trailing data", "POST", nil, body + `{}`, CodeBadJSON},
		{"all fields", "POST", nil, `{"RoomId":"r","Index":0,"ForbidTaken":false,"ForbidVideo":true,"ForbidAudio":true}`, 0},
		{"index out of range", "POST", nil, `{"RoomId":"r","Index":4000000}`, CodeBadParameter},
		{"room never created", "POST", nil, `{"RoomId":"nowhere","Index":1}`, CodeRoomNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := f.goodQuery(t)
			for k, v := range tc.set {
				if v == "" {
					q.Del(k)
				} else {
					q.Set(k, v)
				}
			}
			a := f.do(t, rawCall{method: tc.method, query: q, body: tc.body})
			wantStatus := map[bool]string{true: "OK", false: "FAIL"}[tc.want == 0]
			if a.ErrorCode != tc.want || a.ActionStatus != wantStatus || a.RequestId == "" {
				t.Errorf("answer = %+v, want code %d %s with a RequestId", a, tc.want, wantStatus)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limit = 5 })
	c := f.client(t)
	p := engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True}
	steps := []struct {
		advance time.Duration
		calls   int
		wantOK  int
	}{
		{0, 8, 5},                      // burst at t0: five pass
		{999 * time.Millisecond, 2, 0}, // t0+999ms: the five are still in the window
		{time.Millisecond, 6, 5},       // t0+1s: they have left it
		{500 * time.Millisecond, 1, 0},
		{500 * time.Millisecond, 3, 3},
	}
	for i, s := range steps {
		f.clock.Add(s.advance)
		okCount := 0
		for range s.calls {
			switch got := code(t, c, p); got {
			case 0:
				okCount++
			case CodeFrequencyLimit:
			default:
				t.Fatalf("step %d: code %d", i, got)
			}
		}
		if okCount != s.wantOK {
			t.Errorf("step %d: %d of %d accepted, want %d", i, okCount, s.calls, s.wantOK)
		}
	}
	if got := f.sim.MaxInWindow(time.Second); got != 5 {
		t.Errorf("MaxInWindow(1s) = %d, want 5", got)
	}
	if got := f.sim.MaxReceivedInWindow(time.Second); got != 10 {
		t.Errorf("MaxReceivedInWindow(1s) = %d, want 10 (the first two steps)", got)
	}
}

func TestRateLimitDefault(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	throttled := 0
	for i := range 250 {
		switch got := code(t, c, engine.LockSeat{RoomID: "r", Index: i % 8, ForbidTaken: engine.True}); got {
		case 0:
		case CodeFrequencyLimit:
			throttled++
		default:
			t.Fatalf("code %d", got)
		}
	}
	if throttled != 50 {
		t.Errorf("%d throttled of 250 in one instant, want 50 past the default 200", throttled)
	}
	if got := f.sim.MaxInWindow(time.Second); got != DefaultLimit {
		t.Errorf("MaxInWindow = %d, want %d", got, DefaultLimit)
	}
}

func TestFaultInjection(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*Server)
		room   func(i int) string
		want   []int // codes, or -status for HTTP faults
	}{
		{"next n codes", func(s *Server) { s.FailNext(2, Fault{Code: CodeInternal}) },
			nil, []int{CodeInternal, CodeInternal, 0, 0}},
		{"next codes in order", func(s *Server) {
			s.FailNext(1, Fault{Code: 60008})
			s.FailNext(1, Fault{HTTPStatus: 502})
		}, nil, []int{60008, -502, 0}},
		{"flaky room", func(s *Server) { s.FailRoom("flaky", 2, Fault{Code: CodeInternal}) },
			func(i int) string { return []string{"flaky", "calm", "flaky", "flaky"}[i] },
			[]int{CodeInternal, 0, CodeInternal, 0}},
		{"every call", func(s *Server) { s.FailRate(1, Fault{HTTPStatus: 503}) },
			nil, []int{-503, -503, -503}},
		{"never", func(s *Server) { s.FailRate(0, Fault{Code: CodeInternal}) },
			nil, []int{0, 0, 0}},
		{"cleared", func(s *Server) {
			s.FailRate(1, Fault{Code: CodeInternal})
			s.FailNext(5, Fault{Code: CodeInternal})
			s.ClearFaults()
		}, nil, []int{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.sim.AddRoom("flaky", DefaultSeats)
			f.sim.AddRoom("calm", DefaultSeats)
			c := f.client(t)
			tc.inject(f.sim)
			for i, want := range tc.want {
				room := "r"
				if tc.room != nil {
					room = tc.room(i)
				}
				_, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: room, Index: 1, ForbidAudio: engine.True})
				if got := outcome(t, err); got != want {
					t.Errorf("call %d: got %d, want %d (%v)", i, got, want, err)
				}
			}
		})
	}
}

// outcome is the ErrorCode of err, minus the HTTP status for HTTP faults.
func outcome(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ce *engine.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if ce.Code != 0 {
		return ce.Code
	}
	return -ce.Status
}

func TestFaultRateSampling(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limit = -1 })
	c := f.client(t)
	f.sim.FailRate(0.25, Fault{Code: CodeInternal})
	const calls = 400
	failed := 0
	for range calls {
		if code(t, c, engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True}) == CodeInternal {
			failed++
		}
	}
	// Seeded, so the count is fixed; the bounds only say it is a fraction.
	if failed < calls/8 || failed > calls*3/8 {
		t.Errorf("%d of %d calls failed at rate 0.25", failed, calls)
	}
}

func TestFaultDelay(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	f.sim.FailNext(1, Fault{Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.LockSeat(ctx, engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True})
	if engine.ClassOf(err) != engine.Retryable {
		t.Fatalf("delayed call: err = %v, want a retryable timeout", err)
	}
	if got := code(t, c, engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True}); got != 0 {
		t.Errorf("call after the delayed one: code %d, want 0", got)
	}
	f.sim.SetLatency(time.Millisecond)
	if got := code(t, c, engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True}); got != 0 {
		t.Errorf("call with latency: code %d, want 0", got)
	}
	calls := f.sim.Calls()
	delays := []time.Duration{5 * time.Second, 0, time.Millisecond}
	for i, want := range delays {
		if calls[i].Delay != want {
			t.Errorf("call %d delay = %v, want %v", i, calls[i].Delay, want)
		}
	}
}

func TestCallRecordAndLog(t *testing.T) {
	f := newFixture(t)
	f.sim.AddRoom("room-x", 8)
	q := f.goodQuery(t)
	q.Set("random", "4000000000")
	a := f.do(t, rawCall{method: "POST", query: q, body: `{"RoomId":"room-x","Index":4,"ForbidTaken":false,"ForbidVideo":true}`})
	f.clock.Add(time.Second)
	q.Set("contenttype", "text")
	f.do(t, rawCall{method: "POST", query: q, body: `{"RoomId":"room-x","Index":4}`})

	calls := f.sim.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls recorded, want 2", len(calls))
	}
	want := Call{
		Time: time.Unix(1750000000, 0), Identifier: testAdmin, Random: 4000000000,
		RoomID: "room-x", Index: 4, ForbidTaken: engine.False, ForbidVideo: engine.True,
		HTTPStatus: 200, RequestID: a.RequestId,
	}
	if got := calls[0]; got != want {
		t.Errorf("call 0 = %+v\nwant %+v", got, want)
	}
	if calls[1].Code != CodeBadQuery || !calls[1].Time.Equal(want.Time.Add(time.Second)) {
		t.Errorf("call 1 = %+v, want code %d one second later", calls[1], CodeBadQuery)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "msg=lock_seat"); n != 2 {
		t.Errorf("%d log lines for 2 calls:\n%s", n, logs)
	}
	if strings.Contains(logs, q.Get("usersig")) || strings.Contains(logs, testKey) {
		t.Errorf("the log contains the usersig or key:\n%s", logs)
	}
	f.sim.ResetCalls()
	if n := len(f.sim.Calls()); n != 0 {
		t.Errorf("%d calls after ResetCalls", n)
	}
}

func TestCallRecordBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxCalls = 4 })
	q := f.goodQuery(t)
	for i := range 7 {
		q.Set("random", strings.Repeat("1", i+1))
		f.do(t, rawCall{method: "POST", query: q, body: `{"RoomId":"r","Index":0}`})
	}
	calls := f.sim.Calls()
	if len(calls) > 4 || calls[len(calls)-1].Random != 1111111 {
		t.Errorf("record = %d calls ending with random %d; want at most 4, newest kept", len(calls), calls[len(calls)-1].Random)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{SDKAppID: 1}, "secret key is empty"},
		{"no app", Config{SecretKey: []byte("k")}, "sdkappid is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExpiredUserSigAgainstClient(t *testing.T) {
	f := newFixture(t)
	behind := fakeclock.New(f.clock.Now().Add(-25 * time.Hour)) // a client clock a day behind
	c := f.client(t, func(c *roomengine.Config) { c.Now = behind.Now })
	_, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True})
	if got := outcome(t, err); got != CodeUserSigExpired || engine.ClassOf(err) != engine.Permanent {
		t.Errorf("code %d class %v, want %d permanent", got, engine.ClassOf(err), CodeUserSigExpired)
	}
	if n := len(f.sim.Calls()); n != 2 {
		t.Errorf("%d calls, want 2: the first and one after regenerating", n)
	}
	behind.Add(25 * time.Hour)
	if got := code(t, c, engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True}); got != 0 {
		t.Errorf("after the clocks agree: code %d, want 0", got)
	}
}
