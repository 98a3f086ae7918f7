package app

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/internal/promreg"
	"github.com/roomwarden/roomwarden/rules"
)

// health tracks the rule reloads for /readyz and the reload metrics.
type health struct {
	mu   sync.Mutex
	last rules.ReloadResult

	success     prometheus.Gauge
	lastSuccess prometheus.Gauge
	reloads     *prometheus.CounterVec
	hash        *prometheus.GaugeVec
}

func newHealth(reg prometheus.Registerer) (*health, error) {
	h := &health{
		success: prometheus.NewGauge(prometheus.GaugeOpts{Name: "roomwarden_rules_last_reload_successful",
			Help: "1 if the last rules reload succeeded, 0 if it failed (the previous rules keep running)."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "roomwarden_rules_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful rules reload."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roomwarden_rules_reloads_total",
			Help: "Rules reloads by result (success, failure, unchanged)."}, []string{"result"}),
		hash: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "roomwarden_rules_info",
			Help: "The rule set in force: its content hash and rule count (value)."}, []string{"hash"}),
	}
	return h, promreg.Register(reg, h.success, h.lastSuccess, h.reloads, h.hash)
}

func (h *health) reloaded(r rules.ReloadResult) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = r
	switch {
	case r.Err != nil:
		h.success.Set(0)
		h.reloads.WithLabelValues("failure").Inc()
		return
	case !r.Changed:
		h.reloads.WithLabelValues("unchanged").Inc()
	default:
		h.reloads.WithLabelValues("success").Inc()
		h.hash.Reset()
		h.hash.WithLabelValues(r.Hash).Set(float64(r.Rules))
	}
	h.success.Set(1)
	h.lastSuccess.Set(float64(r.Time.Unix()))
}

// lastReload returns the last reload's result.
func (h *health) lastReload() rules.ReloadResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// since formats how long ago t was, for readiness messages.
func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }
