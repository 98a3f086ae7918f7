package actionlog

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	lines       prometheus.Counter
	writeErrors prometheus.Counter
	healthy     prometheus.Gauge
	reopens     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		lines: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_action_log_lines_total",
			Help: "Outcome lines written to the action log.",
		})),
		writeErrors: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_action_log_write_errors_total",
			Help: "Failed writes to the action log; their outcomes were not recorded and their events not acknowledged.",
		})),
		healthy: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomwarden_action_log_healthy",
			Help: "1 when the last action log write succeeded, 0 while it is failing.",
		})),
		reopens: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_action_log_reopens_total",
			Help: "Times the action log file was reopened (SIGUSR1, rename or removal).",
		})),
	}
}

// register registers c on reg, or returns the collector already
// registered under the same name, so a second Log on one registry works.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}
