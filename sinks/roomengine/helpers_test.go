package roomengine

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/roomwarden/roomwarden/internal/syncbuf"
)

const testKey = "0123456789abcdef-test-secret-key-0123456789abcdef"

// syncBuffer collects log output from concurrent writers.
type syncBuffer = syncbuf.Buffer

// seen is one request as the test server received it.
type seen struct {
	Method      string
	Path        string
	RawQuery    string
	ContentType string
	Body        []byte
}

// recorder is an httptest server that records requests and answers with
// the next handler in its script (the last one repeats).
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []seen
	script []http.HandlerFunc
}

func newRecorder(t *testing.T, script ...http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := len(r.reqs)
	r.reqs = append(r.reqs, seen{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Content-Type"), body})
	h := r.script[min(n, len(r.script)-1)]
	r.mu.Unlock()
	h(w, req)
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

// answer replies with status and body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// apiError replies HTTP 200 with a Room Engine error code.
func apiError(code int) http.HandlerFunc {
	return answer(200, `{"ActionStatus":"FAIL","ErrorCode":`+itoa(code)+`,"ErrorInfo":"code `+itoa(code)+`","RequestId":"Id-err-`+itoa(code)+`"}`)
}

var ok = answer(200, `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","RequestId":"Id-ok-1"}`)

func itoa(n int) string { return strconv.Itoa(n) }

// newTestClient returns a client for endpoint whose debug log goes to logs.
func newTestClient(t *testing.T, endpoint string, logs io.Writer, edit ...func(*Config)) *Client {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	cfg := Config{
		Endpoint:   endpoint,
		SDKAppID:   1400000000,
		Identifier: "administrator",
		SecretKey:  []byte(testKey),
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout:    DefaultTimeout,
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
