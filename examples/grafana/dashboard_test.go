// Package grafana_test checks the Grafana dashboard roomwarden.json: it
// is valid, every panel is titled and bound to the ${datasource}
// variable, and every metric it queries is one the daemon exports.
package grafana_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// notYetExported are metrics of the second stage that the dashboard
// shows before the daemon exports them. The lead deletes each entry as
// its metric lands (the test fails until then, to say so); then the
// list is empty and stays so.
var notYetExported = []string{}

// dashboard is the part of the dashboard JSON the tests read.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []target `json:"targets"`
	Panels     []panel  `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *datasource `json:"datasource"`
}

type variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Query      any         `json:"query"`
	Datasource *datasource `json:"datasource"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("roomwarden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatal("roomwarden.json is not valid JSON")
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("roomwarden.json: %v", err)
	}
	return d
}

// allPanels returns every panel, those inside collapsed rows included.
func allPanels(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// queries returns every PromQL query of the dashboard: the panels'
// targets and the query variables, each with where it is.
func queries(d dashboard) map[string]string {
	out := map[string]string{}
	for _, p := range allPanels(d) {
		for _, tg := range p.Targets {
			out[p.Title+" / "+tg.RefID] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		switch q := v.Query.(type) {
		case string:
			if v.Type == "query" {
				out["variable "+v.Name] = q
			}
		case map[string]any:
			out["variable "+v.Name], _ = q["query"].(string)
		}
	}
	return out
}

func TestDashboardShape(t *testing.T) {
	d := load(t)
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion = %d, want 39 or later", d.SchemaVersion)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: want both", d.Title, d.UID)
	}
	i := slices.IndexFunc(d.Templating.List, func(v variable) bool { return v.Name == "datasource" })
	if i < 0 || d.Templating.List[i].Type != "datasource" || d.Templating.List[i].Query != "prometheus" {
		t.Errorf("want a variable datasource of type datasource, query prometheus")
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && !isOurs(v.Datasource) {
			t.Errorf("variable %s: datasource %+v, want {prometheus ${datasource}}", v.Name, v.Datasource)
		}
	}
	ids := map[int]string{}
	for _, p := range allPanels(d) {
		if p.Title == "" {
			t.Errorf("panel %d (%s) has no title", p.ID, p.Type)
		}
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W < 1 || p.GridPos.H < 1 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if !isOurs(p.Datasource) {
			t.Errorf("panel %q: datasource %+v, want {prometheus ${datasource}}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] || !isOurs(tg.Datasource) {
				t.Errorf("panel %q: target %+v: want an expr, a refId unique in the panel and the ${datasource}", p.Title, tg)
			}
			refs[tg.RefID] = true
		}
	}
}

func isOurs(ds *datasource) bool {
	return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

// TestDashboardCoversOnCall checks that the dashboard shows what on-call
// needs (issue 15): a panel dropping one of these fails.
func TestDashboardCoversOnCall(t *testing.T) {
	used := map[string]bool{}
	for _, q := range queries(load(t)) {
		for _, m := range metricNames(q) {
			used[m] = true
		}
	}
	for _, m := range []string{
		"roomwarden_events_received_total", "roomwarden_event_decision_lag_seconds_bucket",
		"roomwarden_actions_total", "roomwarden_roomengine_call_duration_seconds_bucket",
		"roomwarden_roomengine_call_duration_seconds_count", "roomwarden_executor_rate_limit",
		"roomwarden_executor_queue_depth", "roomwarden_executor_saturated", "roomwarden_executor_oldest_queued_seconds",
		"roomwarden_executor_retries_total", "roomwarden_executor_dead_letters_total", "roomwarden_dead_letters_total",
		"roomwarden_rules_last_reload_successful", "roomwarden_rules_reloads_total", "roomwarden_rule_tripped",
		"roomwarden_shadow_actions_total", "roomwarden_state_ops_total", "roomwarden_replicas", "roomwarden_replica_rate_share",
	} {
		if !used[m] {
			t.Errorf("no panel queries %s", m)
		}
	}
}

// TestDashboardMetricsExist starts the real daemon in-process with a
// registry of the test's own and checks that every metric the dashboard
// queries is registered there. Vectors without children are missing
// from Gather, so a name Gather lacks is asked of the registry itself:
// registering a probe of that name fails if the daemon registered one.
func TestDashboardMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	used := map[string][]string{} // metric → where
	for where, q := range queries(load(t)) {
		for _, m := range metricNames(q) {
			used[m] = append(used[m], where)
		}
	}
	reg := startDaemon(t)
	exported := exportedNames(t, reg)
	for m, where := range used {
		name, ok := exportedAs(m, exported)
		switch {
		case ok && slices.Contains(notYetExported, name):
			t.Errorf("%s is exported now: delete it from notYetExported", name)
		case !ok && !slices.Contains(notYetExported, name):
			slices.Sort(where)
			t.Errorf("the daemon does not export %s, queried by %s", m, strings.Join(where, "; "))
		}
	}
	for _, m := range notYetExported {
		if _, ok := used[m]; !ok {
			t.Errorf("%s is in notYetExported but no panel queries it: delete it", m)
		}
	}
}

// exportedAs reports the registered metric a queried series belongs to:
// itself, or the histogram or summary whose _bucket, _sum or _count it is.
func exportedAs(series string, exported func(string) bool) (string, bool) {
	if exported(series) {
		return series, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(series, suffix); ok {
			return base, exported(base)
		}
	}
	return series, false
}

// startDaemon runs the daemon of internal/daemontest, with reg as its
// registry, until the test ends, and waits until it has acted on one
// event (so that vectors have children).
func startDaemon(t *testing.T) *prometheus.Registry {
	h := daemontest.New(t)
	h.AddRooms("room-demo")
	reg := prometheus.NewRegistry()
	a, err := app.New(h.Config, app.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		a.Close()
	})
	_, js := daemontest.ConnectURL(t, a.NATSURL())
	body, err := os.ReadFile("../events/flagged-join.json")
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	if err := daemontest.PublishAcked(pctx, js, "rooms.events.member.enter", "dashboard-test-1", body); err != nil {
		t.Fatal(err)
	}
	h.WaitActions(1, 30*time.Second)
	return reg
}

// exportedNames returns a func reporting whether the daemon registered
// a metric of that name.
func exportedNames(t *testing.T, reg *prometheus.Registry) func(string) bool {
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	gathered := map[string]bool{}
	for _, f := range families {
		gathered[f.GetName()] = true
	}
	return func(name string) bool {
		if gathered[name] {
			return true
		}
		probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "dashboard test probe: is this name taken?"})
		err := reg.Register(probe)
		if err == nil {
			reg.Unregister(probe)
			return false
		}
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) || strings.Contains(err.Error(), "previously registered descriptor with the same fully-qualified name") {
			return true
		}
		t.Fatalf("probe %s: %v", name, err)
		return false
	}
}
