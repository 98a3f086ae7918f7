package app

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roomwarden/roomwarden/rules"
)

// openHTTP binds the operations endpoint so that New fails on a busy port.
func (a *App) openHTTP() error {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return &ListenError{Key: "http.listen", Addr: a.cfg.HTTP.Listen, Err: err}
	}
	a.httpLn = ln
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", a.handleReady)
	mux.HandleFunc("GET /rules", a.handleRules)
	mux.HandleFunc("POST /-/reload", a.requireToken(a.handleReload))
	if a.cfg.HTTP.Pprof {
		a.mountPprof(mux)
	}
	a.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return nil
}

// mountPprof serves the Go profiler under /debug/pprof/, behind the same
// token as the other admin endpoints.
func (a *App) mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", a.requireToken(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/cmdline", a.requireToken(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", a.requireToken(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", a.requireToken(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", a.requireToken(pprof.Trace))
}

func (a *App) serveHTTP() {
	if err := a.httpSrv.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("http server", "component", "http", "err", err)
	}
}

func (a *App) shutdownHTTP() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.httpSrv.Shutdown(ctx)
}

// readiness lists every failing check; empty means ready.
func (a *App) readiness() []string {
	var bad []string
	if !a.nc.IsConnected() {
		bad = append(bad, "nats: not connected")
	}
	if err := a.intake.Ready(); err != nil {
		bad = append(bad, "consumer: "+err.Error())
	}
	if r := a.health.lastReload(); r.Err != nil {
		bad = append(bad, fmt.Sprintf("rules: last reload failed %s ago (previous rules still running): %v", since(r.Time), r.Err))
	}
	if err := a.alog.Healthy(); err != nil {
		bad = append(bad, "action log: "+err.Error())
	}
	return bad
}

func (a *App) handleReady(w http.ResponseWriter, _ *http.Request) {
	bad := a.readiness()
	if len(bad) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(bad, "\n"))
		return
	}
	fmt.Fprintln(w, "ready")
}

// rulesView is the JSON of GET /rules.
type rulesView struct {
	Hash  string     `json:"hash"`
	Files []string   `json:"files"`
	Rules []ruleView `json:"rules"`
}

type ruleView struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
	On          []string `json:"on"`
	Enabled     bool     `json:"enabled"`
	DryRun      bool     `json:"dry_run"`
}

func (a *App) handleRules(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, viewRules(a.watcher.Current()))
}

func viewRules(s *rules.Set) rulesView {
	v := rulesView{Hash: s.Hash(), Files: s.Files(), Rules: []ruleView{}}
	for _, r := range s.Rules() {
		v.Rules = append(v.Rules, ruleView{Name: r.Name, Description: r.Description, File: r.File,
			Line: r.Line, On: r.On, Enabled: r.Enabled, DryRun: r.DryRun})
	}
	return v
}

func (a *App) handleReload(w http.ResponseWriter, _ *http.Request) {
	r := a.Reload()
	body := map[string]any{"hash": r.Hash, "rules": r.Rules, "changed": r.Changed}
	if r.Err != nil {
		body["error"] = r.Err.Error()
		writeJSON(w, http.StatusUnprocessableEntity, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// requireToken guards an admin handler with the bearer token from
// http.token_env; with no token configured (loopback only, enforced by
// config validation) the handler is open.
func (a *App) requireToken(next http.HandlerFunc) http.HandlerFunc {
	env := a.cfg.HTTP.TokenEnv
	return func(w http.ResponseWriter, r *http.Request) {
		if env == "" {
			next(w, r)
			return
		}
		want := os.Getenv(env)
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if want == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
