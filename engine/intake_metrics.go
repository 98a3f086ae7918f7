package engine

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// intakeMetrics are the intake's Prometheus metrics, created once per
// Intake.
type intakeMetrics struct {
	received       prometheus.Counter
	verdicts       [Leave + 1]prometheus.Counter
	inFlight       prometheus.Gauge
	duration       prometheus.Histogram
	maxDeliveries  prometheus.Counter
	consumerErrors prometheus.Counter
	ackErrors      prometheus.Counter
}

func newIntakeMetrics(reg prometheus.Registerer) (*intakeMetrics, error) {
	verdicts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roomwarden_intake_messages_total",
		Help: "Events handled, by what was done with them: ack, nak, term or leave.",
	}, []string{"verdict"})
	m := &intakeMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_intake_messages_received_total",
			Help: "Messages received from the JetStream consumer.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomwarden_intake_in_flight",
			Help: "Events whose handler is running.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "roomwarden_intake_handler_duration_seconds",
			Help:    "Time from handing an event to the pipeline to its verdict.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		maxDeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_intake_max_deliveries_dead_letters_total",
			Help: "Events that exhausted their deliveries and were dead-lettered.",
		}),
		consumerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_intake_consumer_errors_total",
			Help: "Errors of the JetStream consumer (missed heartbeats, deleted consumer, setup failures).",
		}),
		ackErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_intake_ack_errors_total",
			Help: "Acks, naks and terms that could not be sent.",
		}),
	}
	for v := Ack; v <= Leave; v++ {
		m.verdicts[v] = verdicts.WithLabelValues(v.String())
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, verdicts, m.inFlight, m.duration, m.maxDeliveries, m.consumerErrors, m.ackErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register intake metrics: %w", err)
		}
	}
	return m, nil
}
