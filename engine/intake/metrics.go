package intake

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/promreg"
)

// metrics are the intake's Prometheus metrics, created once per
// Intake.
type metrics struct {
	received       prometheus.Counter
	verdicts       [engine.Leave + 1]prometheus.Counter
	inFlight       prometheus.Gauge
	duration       prometheus.Histogram
	maxDeliveries  prometheus.Counter
	consumerErrors prometheus.Counter
	ackErrors      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	verdicts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roomwarden_intake_messages_total",
		Help: "Events handled, by what was done with them: ack, nak, term or leave.",
	}, []string{"verdict"})
	m := &metrics{
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
	for v := engine.Ack; v <= engine.Leave; v++ {
		m.verdicts[v] = verdicts.WithLabelValues(v.String())
	}
	err := promreg.Register(reg, m.received, verdicts, m.inFlight, m.duration, m.maxDeliveries,
		m.consumerErrors, m.ackErrors)
	return m, err
}
