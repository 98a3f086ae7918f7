package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/promreg"
	"github.com/roomwarden/roomwarden/internal/wait"
)

// tripRefresh is how often roomwarden_rule_tripped is read from the
// store, where every replica's trips and resets meet.
const tripRefresh = 5 * time.Second

// newTrippedGauge creates roomwarden_rule_tripped{rule}.
func newTrippedGauge(reg prometheus.Registerer) (*prometheus.GaugeVec, error) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "roomwarden_rule_tripped",
		Help: "1 while the rule is tripped: its budget was spent, its actions are logged as tripped and not sent until reset."},
		[]string{"rule"})
	return g, promreg.Register(reg, g)
}

// TrippedRules returns the names of the rules in force that are
// tripped. Trips of rule versions no longer in force (the rule changed
// or went) are forgotten on the way.
func (a *App) TrippedRules(ctx context.Context) ([]string, error) {
	keys, err := a.store.Tripped(ctx)
	if err != nil {
		return nil, err
	}
	set := a.watcher.Current()
	var names []string
	for _, k := range keys {
		name, _, _ := strings.Cut(k, "@")
		if r := set.Rule(name); r != nil && engine.BudgetKey(r) == k {
			names = append(names, name)
			continue
		}
		if err := a.store.Reset(ctx, k); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// runTripped keeps roomwarden_rule_tripped current until ctx ends.
func (a *App) runTripped(ctx context.Context) {
	for {
		a.refreshTripped(ctx)
		if wait.For(ctx, tripRefresh) != nil {
			return
		}
	}
}

func (a *App) refreshTripped(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, tripRefresh)
	defer cancel()
	names, err := a.TrippedRules(ctx)
	if err != nil {
		return // the store's own health says why
	}
	a.tripped.Reset()
	for _, n := range names {
		a.tripped.WithLabelValues(n).Set(1)
	}
}

// handleReset is POST /rules/{name}/reset: it un-trips a rule whose
// budget is spent and forgets its spending.
func (a *App) handleReset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rule := a.watcher.Current().Rule(name)
	switch {
	case rule == nil:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no rule " + name + " in force"})
		return
	case rule.Budget == nil:
		writeJSON(w, http.StatusConflict, map[string]any{"error": "rule " + name + " has no budget to reset"})
		return
	}
	if err := a.store.Reset(r.Context(), engine.BudgetKey(rule)); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, state.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"error": err.Error()})
		return
	}
	a.log.Info("rule reset: its budget starts afresh", "component", "budgets", "rule", name)
	a.refreshTripped(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"rule": name, "reset": true})
}
