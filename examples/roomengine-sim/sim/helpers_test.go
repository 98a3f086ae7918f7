package sim

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/fakeclock"

	"github.com/roomwarden/roomwarden/internal/syncbuf"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

const (
	testKey   = "sim-test-secret-key-0123456789abcdef"
	testApp   = 1400000000
	testAdmin = DefaultAdmin
	testRoom  = "r" // created by newFixture with DefaultSeats seats
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock = fakeclock.Clock

// syncBuffer collects log output from concurrent writers.
type syncBuffer = syncbuf.Buffer

// fixture is a simulator behind an httptest server, with testRoom
// created.
type fixture struct {
	sim   *Server
	ts    *httptest.Server
	clock *fakeClock
	logs  *syncBuffer
}

func newFixture(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clock: fakeclock.New(time.Unix(1750000000, 0)), logs: &syncBuffer{}}
	cfg := Config{
		SecretKey: []byte(testKey),
		SDKAppID:  testApp,
		Seed:      1,
		Logger:    slog.New(slog.NewTextHandler(f.logs, nil)),
		Now:       f.clock.Now,
	}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.AddRoom(testRoom, DefaultSeats)
	f.sim = s
	f.ts = httptest.NewServer(s)
	t.Cleanup(f.ts.Close)
	return f
}

// client returns a roomengine client for the fixture using its clock.
func (f *fixture) client(t *testing.T, edit ...func(*roomengine.Config)) *roomengine.Client {
	t.Helper()
	cfg := roomengine.Config{
		Endpoint:   f.ts.URL,
		SDKAppID:   testApp,
		Identifier: testAdmin,
		SecretKey:  []byte(testKey),
		Now:        f.clock.Now,
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := roomengine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// code calls lock_seat through c and returns the ErrorCode (0 on success).
func code(t *testing.T, c engine.Sink, p engine.LockSeat) int {
	t.Helper()
	_, err := c.LockSeat(t.Context(), p)
	if err == nil {
		return 0
	}
	var ce *engine.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("LockSeat: %v", err)
	}
	return ce.Code
}

// answerBody is the API's response body.
type answerBody struct {
	ActionStatus string
	ErrorCode    int
	ErrorInfo    string
	RequestId    string
}

// rawCall sends a hand-made request and decodes the answer.
type rawCall struct {
	method string
	query  url.Values
	body   string
}

// goodQuery is a valid query for identifier at the fixture's clock.
func (f *fixture) goodQuery(t *testing.T) url.Values {
	t.Helper()
	sig, err := roomengine.GenUserSig([]byte(testKey), testApp, testAdmin, f.clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{
		"sdkappid":    {"1400000000"},
		"identifier":  {testAdmin},
		"usersig":     {sig},
		"random":      {"12345"},
		"contenttype": {"json"},
	}
}

func (f *fixture) do(t *testing.T, rc rawCall) answerBody {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), rc.method, f.ts.URL+roomengine.LockSeatPath+"?"+rc.query.Encode(), strings.NewReader(rc.body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a answerBody
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &a) != nil {
		t.Fatalf("answer %d %s, want HTTP 200 with a JSON body", resp.StatusCode, raw)
	}
	return a
}

// seatsOf reads GET /rooms/{id}/seats.
func (f *fixture) seatsOf(t *testing.T, id string) (int, []Seat) {
	t.Helper()
	resp, err := http.Get(f.ts.URL + "/rooms/" + url.PathEscape(id) + "/seats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		RoomId   string
		SeatList []Seat
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if out.RoomId != id {
			t.Errorf("RoomId = %q, want %q", out.RoomId, id)
		}
	}
	return resp.StatusCode, out.SeatList
}
