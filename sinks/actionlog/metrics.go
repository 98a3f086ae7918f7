package actionlog

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/internal/promreg"
)

type metrics struct {
	lines       prometheus.Counter
	writeErrors prometheus.Counter
	healthy     prometheus.Gauge
	reopens     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_action_log_lines_total",
			Help: "Outcome lines written to the action log.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_action_log_write_errors_total",
			Help: "Failed writes to the action log; their outcomes were not recorded and their events not acknowledged.",
		}),
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomwarden_action_log_healthy",
			Help: "1 when the last action log write succeeded, 0 while it is failing.",
		}),
		reopens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_action_log_reopens_total",
			Help: "Times the action log file was reopened (SIGUSR1, rename or removal).",
		}),
	}
	return m, promreg.Register(reg, m.lines, m.writeErrors, m.healthy, m.reopens)
}
