package roomengine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://h/v4/x?sdkappid=1&identifier=a&usersig=eJx*abc-_&random=5&contenttype=json",
			"https://h/v4/x?sdkappid=1&identifier=a&usersig=REDACTED&random=5&contenttype=json"},
		{"https://h/p?usersig=abc", "https://h/p?usersig=REDACTED"},
		{"https://h/p?UserSig=abc#frag", "https://h/p?UserSig=REDACTED#frag"},
		{`Post "http://h/p?a=1&usersig=abc&b=2": EOF`, `Post "http://h/p?a=1&usersig=REDACTED&b=2": EOF`},
		{"two: ?usersig=a and &usersig=b", "two: ?usersig=REDACTED and &usersig=REDACTED"},
		{"https://h/p?notusersig=abc", "https://h/p?notusersig=abc"},
		{"no url here", "no url here"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL = %q, want %q", got, tc.want)
			}
		})
	}
}

// echoURL answers with the full request URL in ErrorInfo, as a careless
// server might.
func echoURL(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"ActionStatus":"FAIL","ErrorCode":%d,"ErrorInfo":"bad request %s","RequestId":"x"}`, code, r.URL.RequestURI())
	}
}

func TestNoSecretsInErrorsOrLogs(t *testing.T) {
	logs := &syncBuffer{}
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	hang := func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}
	closed := newRecorder(t, ok)
	closed.Close()

	scenarios := []struct {
		name     string
		endpoint string
		script   []http.HandlerFunc
		timeout  time.Duration
		cancel   bool
	}{
		{name: "echoed url", script: []http.HandlerFunc{echoURL(100002)}},
		{name: "echoed url after 70001", script: []http.HandlerFunc{echoURL(70001), echoURL(70001)}},
		{name: "redirect", script: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String(), http.StatusFound)
		}}},
		{name: "html 404", script: []http.HandlerFunc{answer(404, "<html>not found</html>")}},
		{name: "truncated", script: []http.HandlerFunc{truncated}},
		{name: "timeout", script: []http.HandlerFunc{hang}, timeout: 50 * time.Millisecond},
		{name: "cancelled", script: []http.HandlerFunc{hang}, cancel: true},
		{name: "refused", endpoint: closed.URL},
	}
	var texts, sigs []string
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			endpoint := sc.endpoint
			var srv *recorder
			if endpoint == "" {
				srv = newRecorder(t, sc.script...)
				endpoint = srv.URL
			}
			c := newTestClient(t, endpoint, logs)
			if sc.timeout > 0 {
				c.hc.Timeout = sc.timeout // below the backend's 3 s, to keep the test short
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if sc.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			err := lockOne(t, c, ctx)
			texts = append(texts, errorTexts(err)...)
			sig, _ := c.sigs.get()
			sigs = append(sigs, sig)
			if srv != nil {
				for _, r := range srv.requests() {
					sigs = append(sigs, sigOf(t, r))
				}
			}
		})
	}
	texts = append(texts, logs.String())
	all := strings.Join(texts, "\n")
	if strings.Contains(all, testKey) {
		t.Error("the secret key appears in an error or log line")
	}
	for _, s := range sigs {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("a usersig appears in an error or log line:\n%s", all)
			break
		}
	}
	if !strings.Contains(all, "usersig="+Redacted) {
		t.Errorf("no redacted URL in any error; the redaction path was not exercised:\n%s", all)
	}
}

// errorTexts renders err and every error it wraps, in several verbs.
func errorTexts(err error) []string {
	var out []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		out = append(out, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%v", e))
	}
	var ce *engine.CallError
	if errors.As(err, &ce) {
		out = append(out, ce.Info)
	}
	return out
}
