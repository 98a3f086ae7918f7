package app_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestGuardBrowserRequests sends the daemon, listening on loopback with
// no token, what a hostile web page in the operator's browser could: a
// cross-site POST to the admin endpoints, and requests naming a foreign
// host (DNS rebinding). Both are refused; the same requests from the
// console itself or from tools without browser headers are served.
func TestGuardBrowserRequests(t *testing.T) {
	h := daemontest.New(t)
	a := h.Start()
	_, port, _ := net.SplitHostPort(a.HTTPAddr())
	base := "http://127.0.0.1:" + port

	tests := []struct {
		name, method, path string
		header             map[string]string
		want               int
	}{
		{"reload from a tool", "POST", "/-/reload", nil, 200},
		{"reload from the console", "POST", "/-/reload", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": base}, 200},
		{"reload from another site", "POST", "/-/reload", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"reload from another origin (old browser)", "POST", "/-/reload", map[string]string{"Origin": "https://evil.example"}, 403},
		{"reset from another site", "POST", "/rules/flagged-join/reset", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"explain from another site", "POST", "/explain", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"state through a rebound name", "GET", "/console/state", map[string]string{"Host": "evil.example:" + port}, 421},
		{"metrics through a rebound name", "GET", "/metrics", map[string]string{"Host": "evil.example"}, 421},
		{"state as localhost", "GET", "/console/state", map[string]string{"Host": "localhost:" + port}, 200},
		{"state as [::1]", "GET", "/console/state", map[string]string{"Host": "[::1]:" + port}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := send(t, tc.method, base+tc.path, tc.header); got != tc.want {
				t.Errorf("%s %s with %v = %d, want %d", tc.method, tc.path, tc.header, got, tc.want)
			}
		})
	}
}

// TestGuardOffLoopback: listening beyond loopback (with a token, as
// config validation requires), the daemon cannot know its public names,
// so any Host is served; cross-site POSTs are still refused, even with
// the token.
func TestGuardOffLoopback(t *testing.T) {
	const token = "guard-admin-token-41d7"
	t.Setenv("ROOMWARDEN_TEST_GUARD_TOKEN", token)
	h := daemontest.New(t)
	h.Config.HTTP.Listen = "0.0.0.0:0"
	h.Config.HTTP.TokenEnv = "ROOMWARDEN_TEST_GUARD_TOKEN"
	a := h.Start()
	_, port, _ := net.SplitHostPort(a.HTTPAddr())
	base := "http://127.0.0.1:" + port
	auth := "Bearer " + token
	if got := send(t, "GET", base+"/healthz", map[string]string{"Host": "roomwarden.internal.example"}); got != 200 {
		t.Errorf("GET /healthz with a public Host = %d, want 200", got)
	}
	if got := send(t, "POST", base+"/-/reload", map[string]string{"Authorization": auth}); got != 200 {
		t.Errorf("POST /-/reload with the token = %d, want 200", got)
	}
	if got := send(t, "POST", base+"/-/reload", map[string]string{"Authorization": auth, "Sec-Fetch-Site": "cross-site"}); got != 403 {
		t.Errorf("cross-site POST /-/reload with the token = %d, want 403", got)
	}
}

// send sends method to url with the given headers ("Host" sets the
// request's host) and returns the status code.
func send(t *testing.T, method, url string, header map[string]string) int {
	t.Helper()
	var body *strings.Reader
	if method == "POST" && strings.HasSuffix(url, "/explain") {
		body = strings.NewReader(`{"id":"ev-guard","type":"member.enter","room_id":"room-1","user_id":"u1"}`)
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
