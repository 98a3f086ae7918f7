package replicas

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/internal/promreg"
)

// metrics are the membership's Prometheus metrics, created once per
// Membership.
type metrics struct {
	replicas     prometheus.Gauge
	share        prometheus.Gauge
	beatFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		replicas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomwarden_replicas",
			Help: "Replicas this one splits executor.rate_per_second with, itself included (a replica that left is counted one more rate window).",
		}),
		share: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomwarden_replica_rate_share",
			Help: "This replica's share of executor.rate_per_second: the most Room Engine calls it starts in any rolling second (0 while joining or cut off from NATS).",
		}),
		beatFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_replica_heartbeat_failures_total",
			Help: "Heartbeats of this replica that JetStream did not acknowledge.",
		}),
	}
	return m, promreg.Register(reg, m.replicas, m.share, m.beatFailures)
}
