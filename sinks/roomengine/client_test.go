package roomengine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

func TestLockSeatRequestForm(t *testing.T) {
	tests := []struct {
		name     string
		params   engine.LockSeat
		wantBody string
	}{
		{"no flags", engine.LockSeat{RoomID: "room-test", Index: 2},
			`{"RoomId":"room-test","Index":2}`},
		{"audio only", engine.LockSeat{RoomID: "room-test", Index: 2, ForbidAudio: engine.True},
			`{"RoomId":"room-test","Index":2,"ForbidAudio":true}`},
		{"all set", engine.LockSeat{RoomID: "r", Index: 0, ForbidTaken: engine.True, ForbidVideo: engine.False, ForbidAudio: engine.True},
			`{"RoomId":"r","Index":0,"ForbidTaken":true,"ForbidVideo":false,"ForbidAudio":true}`},
		{"unlock taken", engine.LockSeat{RoomID: "r", Index: 7, ForbidTaken: engine.False},
			`{"RoomId":"r","Index":7,"ForbidTaken":false}`},
		{"escaped room id", engine.LockSeat{RoomID: "a\"b\\c\n<é>", Index: 1, ForbidVideo: engine.True},
			`{"RoomId":"a\"b\\c\n\u003cé\u003e","Index":1,"ForbidVideo":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, ok)
			c := newTestClient(t, srv.URL, nil)
			rc, err := c.LockSeat(t.Context(), tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if rc.RequestID != "Id-ok-1" {
				t.Errorf("RequestID = %q, want Id-ok-1", rc.RequestID)
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			checkRequest(t, reqs[0])
			if string(reqs[0].Body) != tc.wantBody {
				t.Errorf("body = %s, want %s", reqs[0].Body, tc.wantBody)
			}
			var back struct{ RoomId string }
			if err := json.Unmarshal(reqs[0].Body, &back); err != nil || back.RoomId != tc.params.RoomID {
				t.Errorf("body RoomId decodes to %q (%v), want %q", back.RoomId, err, tc.params.RoomID)
			}
		})
	}
}

// checkRequest asserts the fixed parts of a lock_seat request and returns
// its random.
func checkRequest(t *testing.T, r seen) uint32 {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != LockSeatPath || r.ContentType != "application/json" {
		t.Errorf("got %s %s (%s), want POST %s (application/json)", r.Method, r.Path, r.ContentType, LockSeatPath)
	}
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 5 {
		t.Errorf("query %q has %d parameters, want sdkappid identifier usersig random contenttype", r.RawQuery, len(q))
	}
	if q.Get("sdkappid") != "1400000000" || q.Get("identifier") != "administrator" || q.Get("contenttype") != "json" {
		t.Errorf("query = %q", r.RawQuery)
	}
	d := checkSig(t, q.Get("usersig"), testKey)
	if d.identifier != "administrator" || d.sdkappid != 1400000000 || d.expire != int64(DefaultUserSigTTL/time.Second) {
		t.Errorf("usersig fields = %+v", d)
	}
	n, err := strconv.ParseUint(q.Get("random"), 10, 32)
	if err != nil {
		t.Errorf("random %q is not a uint32: %v", q.Get("random"), err)
	}
	return uint32(n)
}

func TestLockSeatRandomDiffers(t *testing.T) {
	srv := newRecorder(t, ok)
	c := newTestClient(t, srv.URL, nil)
	const calls = 16
	for range calls {
		if _, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "r", Index: 1}); err != nil {
			t.Fatal(err)
		}
	}
	randoms := map[uint32]bool{}
	for _, r := range srv.requests() {
		randoms[checkRequest(t, r)] = true
	}
	if len(randoms) != calls {
		t.Errorf("%d distinct randoms in %d requests, want a fresh one each time", len(randoms), calls)
	}
}

// truncated declares a longer body than it sends, then drops the
// connection.
func truncated(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", "200")
	w.WriteHeader(200)
	io.WriteString(w, `{"ActionStatus":"OK",`)
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestLockSeatErrorClasses(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantClass  engine.ErrorClass
		wantCode   int
		wantStatus int
	}{
		{"100001 internal", apiError(100001), engine.Retryable, 100001, 200},
		{"70500 internal", apiError(70500), engine.Retryable, 70500, 200},
		{"60007 frequency", apiError(60007), engine.Throttled, 60007, 200},
		{"60019 frequency", apiError(60019), engine.Throttled, 60019, 200},
		{"100002 bad parameter", apiError(100002), engine.Permanent, 100002, 200},
		{"100004 room gone", apiError(100004), engine.Permanent, 100004, 200},
		{"100211 no seats", apiError(100211), engine.Permanent, 100211, 200},
		{"70003 illegal sig", apiError(70003), engine.Permanent, 70003, 200},
		{"unknown code", apiError(12345), engine.Permanent, 12345, 200},
		{"http 500", answer(500, "oops"), engine.Retryable, 0, 500},
		{"http 502", answer(502, "<html>bad gateway</html>"), engine.Retryable, 0, 502},
		{"http 503", answer(503, ""), engine.Retryable, 0, 503},
		{"http 429", answer(429, ""), engine.Retryable, 0, 429},
		{"html 404", answer(404, "<html><body>not found</body></html>"), engine.Permanent, 0, 404},
		{"http 400", answer(400, `{"ErrorCode":0}`), engine.Permanent, 0, 400},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere?"+r.URL.RawQuery, http.StatusFound)
		}, engine.Permanent, 0, 302},
		{"garbage body", answer(200, "not json at all"), engine.Permanent, 0, 200},
		{"html 200", answer(200, "<html></html>"), engine.Permanent, 0, 200},
		{"truncated json", answer(200, `{"ActionStatus":"OK","ErrorCo`), engine.Permanent, 0, 200},
		{"truncated stream", truncated, engine.Retryable, 0, 200},
		{"empty object", answer(200, `{}`), engine.Permanent, 0, 200},
		{"FAIL without code", answer(200, `{"ActionStatus":"FAIL","ErrorCode":0}`), engine.Permanent, 0, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, tc.handler)
			c := newTestClient(t, srv.URL, nil)
			_, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True})
			ce := mustCallError(t, err)
			if ce.Class != tc.wantClass || ce.Code != tc.wantCode || ce.Status != tc.wantStatus {
				t.Errorf("got class %v code %d status %d (%v), want %v %d %d",
					ce.Class, ce.Code, ce.Status, err, tc.wantClass, tc.wantCode, tc.wantStatus)
			}
			if tc.wantCode != 0 && ce.RequestID != "Id-err-"+itoa(tc.wantCode) {
				t.Errorf("RequestID = %q", ce.RequestID)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want exactly 1 (the executor retries, not the client)", n)
			}
		})
	}
}

func mustCallError(t *testing.T, err error) *engine.CallError {
	t.Helper()
	var ce *engine.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want *engine.CallError", err, err)
	}
	return ce
}

func TestLockSeatTransportErrors(t *testing.T) {
	closed := newRecorder(t, ok)
	closedURL := closed.URL
	closed.Close()

	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slow := newRecorder(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		c := newTestClient(t, closedURL, nil)
		ce := mustCallError(t, lockOne(t, c, t.Context()))
		if ce.Class != engine.Retryable || ce.Err == nil {
			t.Errorf("got %v class %v, want a retryable transport error", ce, ce.Class)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		c := newTestClient(t, slow.URL, nil)
		c.hc.Timeout = 100 * time.Millisecond // below the backend's 3 s, to keep the test short
		ce := mustCallError(t, lockOne(t, c, t.Context()))
		var ne net.Error
		if ce.Class != engine.Retryable || !errors.As(ce, &ne) || !ne.Timeout() {
			t.Errorf("got %v class %v, want a retryable timeout", ce, ce.Class)
		}
	})
}

func lockOne(t *testing.T, c *Client, ctx context.Context) error {
	t.Helper()
	_, err := c.LockSeat(ctx, engine.LockSeat{RoomID: "r", Index: 1, ForbidTaken: engine.True})
	if err == nil {
		t.Fatal("LockSeat succeeded, want an error")
	}
	return err
}

func TestLockSeatContextCancel(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(_ http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := newTestClient(t, srv.URL, nil)

	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		err := lockOne(t, c, ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		before := len(srv.requests())
		err := lockOne(t, c, ctx)
		if !errors.Is(err, context.Canceled) || len(srv.requests()) != before {
			t.Errorf("err = %v, %d new requests; want context.Canceled and none", err, len(srv.requests())-before)
		}
	})
}

func TestLockSeatExpiredUserSig(t *testing.T) {
	tests := []struct {
		name     string
		script   []http.HandlerFunc
		wantErr  int // 0: success
		wantReqs int
	}{
		{"regenerates once then succeeds", []http.HandlerFunc{apiError(70001), ok}, 0, 2},
		{"expired twice is permanent", []http.HandlerFunc{apiError(70001), apiError(70001), ok}, 70001, 2},
		{"other error after regeneration", []http.HandlerFunc{apiError(70001), apiError(100001)}, 100001, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, tc.script...)
			c := newTestClient(t, srv.URL, nil)
			_, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "r", Index: 3})
			switch {
			case tc.wantErr == 0 && err != nil:
				t.Fatalf("err = %v, want success", err)
			case tc.wantErr != 0:
				if ce := mustCallError(t, err); ce.Code != tc.wantErr || ce.Class != Classify(tc.wantErr) {
					t.Errorf("got code %d class %v, want %d %v", ce.Code, ce.Class, tc.wantErr, Classify(tc.wantErr))
				}
			}
			reqs := srv.requests()
			if len(reqs) != tc.wantReqs {
				t.Fatalf("%d requests, want %d", len(reqs), tc.wantReqs)
			}
			s1, s2 := sigOf(t, reqs[0]), sigOf(t, reqs[1])
			if s1 == s2 {
				t.Fatal("the retry reused the expired usersig")
			}
			if d1, d2 := checkSig(t, s1, testKey), checkSig(t, s2, testKey); d2.time <= d1.time {
				t.Errorf("regenerated TLS.time %d is not after %d", d2.time, d1.time)
			}
			if string(reqs[0].Body) != string(reqs[1].Body) {
				t.Errorf("retry body %s differs from %s", reqs[1].Body, reqs[0].Body)
			}
		})
	}
}

func sigOf(t *testing.T, r seen) string {
	t.Helper()
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	return q.Get("usersig")
}

func TestLockSeatKeepsRenewedSig(t *testing.T) {
	srv := newRecorder(t, apiError(70001), ok, ok)
	c := newTestClient(t, srv.URL, nil)
	for range 2 {
		if _, err := c.LockSeat(t.Context(), engine.LockSeat{RoomID: "r", Index: 3}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := srv.requests()
	if len(reqs) != 3 || sigOf(t, reqs[2]) != sigOf(t, reqs[1]) {
		t.Errorf("%d requests; the call after a renewal must reuse the renewed sig", len(reqs))
	}
}

func TestLockSeatInvalidParams(t *testing.T) {
	tests := []struct {
		name string
		p    engine.LockSeat
		want string
	}{
		{"empty room", engine.LockSeat{Index: 1}, "room_id is empty"},
		{"negative index", engine.LockSeat{RoomID: "r", Index: -1}, "index -1 is negative"},
	}
	srv := newRecorder(t, ok)
	c := newTestClient(t, srv.URL, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.LockSeat(t.Context(), tc.p)
			ce := mustCallError(t, err)
			if ce.Class != engine.Permanent || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (class %v), want permanent %q", err, ce.Class, tc.want)
			}
		})
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests for invalid params, want 0", n)
	}
}
