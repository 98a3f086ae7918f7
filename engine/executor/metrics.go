package executor

import (
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/promreg"

	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the executor's Prometheus metrics, created once per
// Executor.
type metrics struct {
	callDuration *prometheus.HistogramVec
	callOK       prometheus.Observer // callDuration{code="0"}
	retries      prometheus.Counter
	throttled    prometheus.Counter
	deadLetters  prometheus.Counter
	limiterWait  prometheus.Histogram
	inflight     prometheus.Gauge
	outcomes     *prometheus.CounterVec
	saturated    prometheus.Gauge
	submitWait   prometheus.Histogram
	localErrors  prometheus.Counter
}

// gauges are the values read at scrape time.
type gauges struct {
	queueDepth, oldest, rate func() float64
}

// newMetrics creates the metrics and registers them on reg (nil:
// not registered); g's values are read at scrape time.
func newMetrics(reg prometheus.Registerer, g gauges) (*metrics, error) {
	m := &metrics{
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roomwarden_roomengine_call_duration_seconds",
			Help:    "Room Engine lock_seat call latency by result: the API error code (0 for success), http_<status>, transport or error.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 3, 5},
		}, []string{"code"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_executor_retries_total",
			Help: "Room Engine calls scheduled for a retry.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_executor_throttled_total",
			Help: "Room Engine calls answered with a frequency-limit error.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_executor_dead_letters_total",
			Help: "Actions published to the dead-letter sink after their retries were exhausted.",
		}),
		limiterWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "roomwarden_executor_limiter_wait_seconds",
			Help:    "Time a call waited for the rate limiter.",
			Buckets: []float64{.0001, .001, .005, .01, .05, .1, .5, 1, 5, 10},
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomwarden_executor_inflight_calls",
			Help: "Room Engine calls in progress.",
		}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_executor_outcomes_total",
			Help: "Actions that left the executor, by outcome (error: no terminal outcome; not_wanted: ended unsent, their Still hook said so).",
		}, []string{"outcome"}),
		saturated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomwarden_executor_saturated",
			Help: "1 from the moment the action queue fills until it is half empty again.",
		}),
		localErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_executor_local_errors_total",
			Help: "Calls that could not be sent for want of a local resource (file descriptors); retried without spending an attempt.",
		}),
		submitWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "roomwarden_executor_submit_wait_seconds",
			Help:    "Time an action waited for room in the full queue before it was queued.",
			Buckets: []float64{.001, .01, .1, 1, 5, 10, 30, 60, 300},
		}),
	}
	m.callOK = m.callDuration.WithLabelValues("0")
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "roomwarden_executor_queue_depth",
		Help: "Actions queued for a worker.",
	}, g.queueDepth)
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "roomwarden_executor_oldest_queued_seconds",
		Help: "How long the action queued longest has waited for a worker.",
	}, g.oldest)
	rateGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "roomwarden_executor_rate_limit",
		Help: "Current rate limiter pace in calls per second (lowered after throttling).",
	}, g.rate)
	err := promreg.Register(reg, m.callDuration, m.retries, m.throttled, m.deadLetters,
		m.limiterWait, m.inflight, m.outcomes, m.saturated, m.submitWait, m.localErrors, depth, oldest, rateGauge)
	return m, err
}

// observeCall records one call's latency under its result label.
func (m *metrics) observeCall(err error, d time.Duration) {
	if err == nil {
		m.callOK.Observe(d.Seconds())
		return
	}
	m.callDuration.WithLabelValues(callCodeLabel(err)).Observe(d.Seconds())
}

// outcome counts an action leaving the executor; kind "" is an error.
func (m *metrics) outcome(kind engine.OutcomeKind) {
	if kind == "" {
		kind = "error"
	}
	m.outcomes.WithLabelValues(string(kind)).Inc()
}

// callCodeLabel names a failed call's result with bounded cardinality:
// documented API codes as themselves, others as "other"; HTTP statuses
// as http_<status>; transport failures as "transport"; errors that are
// not *CallError as "error".
func callCodeLabel(err error) string {
	var ce *engine.CallError
	switch {
	case !errors.As(err, &ce):
		return "error"
	case ce.Code != 0 && documentedCode(ce.Code):
		return strconv.Itoa(ce.Code)
	case ce.Code != 0:
		return "other"
	case ce.Status >= 100 && ce.Status <= 599:
		return "http_" + strconv.Itoa(ce.Status)
	case ce.Status != 0:
		return "http_other"
	}
	return "transport"
}

// documentedCode reports whether code is one the Room Engine documents
// for lock_seat and the REST API in general.
func documentedCode(code int) bool {
	switch code {
	case 60002, 60003, 60004, 60005, 60006, 60007, 60008, 60010, 60011, 60014,
		60016, 60018, 60019, 60020, 60021, 60025, 60026,
		70001, 70003, 70009, 70013, 70014, 70016, 70020, 70050, 70169, 70500,
		100001, 100002, 100004, 100211:
		return true
	}
	return false
}
