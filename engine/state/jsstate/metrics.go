package jsstate

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/internal/promreg"
)

// metrics are the store's Prometheus metrics, created once per Store.
type metrics struct {
	ops      *prometheus.CounterVec
	duration *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	undos    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_state_ops_total",
			Help: "State store calls, by operation and result (ok, conflict, unavailable, error).",
		}, []string{"op", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roomwarden_state_op_duration_seconds",
			Help:    "Duration of state store calls, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"op"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_state_cas_retries_total",
			Help: "Compare-and-swap writes retried because the key changed meanwhile (another replica, or a stale cache); a cooldown's create that finds the cooldown running is not counted.",
		}, []string{"op"}),
		undos: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_state_undos_total",
			Help: "Due undos received by RunUndos, by outcome: done, stale (the lock changed or ended meanwhile), failed (redelivered later).",
		}, []string{"outcome"}),
	}
	return m, promreg.Register(reg, m.ops, m.duration, m.retries, m.undos)
}

func (m *metrics) observe(op, result string, d time.Duration) {
	m.ops.WithLabelValues(op, result).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
}
