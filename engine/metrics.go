package engine

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/internal/promreg"
	"github.com/roomwarden/roomwarden/rules"
)

// pipelineMetrics are the event and per-rule series. Per-rule counters
// are resolved once per rule set, not per event, to keep label lookups
// off the hot path.
type pipelineMetrics struct {
	received, decoded, malformed, recordErrors prometheus.Counter
	overrides, stateUnavailable, windowErrors  prometheus.Counter
	decisionLag                                prometheus.Histogram

	evaluations, matches, errors *prometheus.CounterVec
	actions, shadowActions       *prometheus.CounterVec

	cache sync.Map // rule name → evaluations prometheus.Counter
	// perType is the evaluations counters of the current set's candidates,
	// by event type: one map lookup per event instead of one sync.Map
	// lookup (and hash of the rule name) per candidate.
	perType atomic.Pointer[typeCounters]

	mu    sync.Mutex
	rules map[string]bool // rules whose series exist, as of the last set seen
}

// typeCounters are the evaluations counters of one set's candidates.
type typeCounters struct {
	set    *rules.Set
	byType map[string][]prometheus.Counter
}

func newPipelineMetrics(reg prometheus.Registerer) (*pipelineMetrics, error) {
	m := &pipelineMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "roomwarden_events_received_total",
			Help: "Messages received from the event stream."}),
		decoded: prometheus.NewCounter(prometheus.CounterOpts{Name: "roomwarden_events_decoded_total",
			Help: "Events decoded (a callback body can hold several)."}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{Name: "roomwarden_events_malformed_total",
			Help: "Messages that could not be decoded; dead-lettered and terminated."}),
		recordErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "roomwarden_outcome_record_errors_total",
			Help: "Outcomes that could not be written to the action log; their events were redelivered."}),
		overrides: prometheus.NewCounter(prometheus.CounterOpts{Name: "roomwarden_overrides_total",
			Help: "Seat flags a moderator cleared while roomwarden held them locked: their undos were dropped and they are held for the moderator."}),
		stateUnavailable: prometheus.NewCounter(prometheus.CounterOpts{Name: "roomwarden_state_unavailable_total",
			Help: "Events given back for redelivery because the state store could not be reached."}),
		windowErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "roomwarden_window_errors_total",
			Help: "Events a window could not count: its expressions failed on them at run time."}),
		shadowActions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roomwarden_shadow_actions_total",
			Help: "Actions shadow rules would have run (outcome shadow), by rule. Never sent."}, []string{"rule"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roomwarden_rule_evaluations_total",
			Help: "Rule conditions evaluated, by rule (a rule the rule index shows cannot match an event is neither run nor counted)."}, []string{"rule"}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roomwarden_rule_matches_total",
			Help: "Rule matches, by rule."}, []string{"rule"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roomwarden_rule_errors_total",
			Help: "Rule runtime errors, by rule."}, []string{"rule"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roomwarden_actions_total",
			Help: "Actions by rule and terminal outcome, counted once recorded."}, []string{"rule", "outcome"}),
		decisionLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "roomwarden_event_decision_lag_seconds",
			Help:    "Time from the stream storing an event to the daemon evaluating its rules, first deliveries only.",
			Buckets: decisionLagBuckets}),
	}
	err := promreg.Register(reg, m.received, m.decoded, m.malformed, m.recordErrors, m.overrides, m.stateUnavailable,
		m.windowErrors, m.shadowActions,
		m.decisionLag,
		m.evaluations, m.matches, m.errors, m.actions)
	return m, err
}

// decisionLagBuckets resolve the sub-millisecond to minutes range, with
// a bound at 5 ms (the latency target of the benchmarks).
var decisionLagBuckets = []float64{0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// observeEvaluated counts one evaluation for every rule the last
// decision ran on an event of this type: ran holds their positions
// among the type's candidates (rules.Evaluator.Ran).
func (m *pipelineMetrics) observeEvaluated(set *rules.Set, eventType string, ran []int32) {
	tc := m.perType.Load()
	if tc == nil || tc.set != set {
		m.forgetRemoved(set)
		tc = m.typeCountersOf(set)
		m.perType.Store(tc)
	}
	cs := tc.byType[eventType]
	for _, i := range ran {
		cs[i].Inc()
	}
}

// forgetRemoved deletes the series of rules that set no longer has, so
// reloads that rename rules do not grow /metrics without bound.
func (m *pipelineMetrics) forgetRemoved(set *rules.Set) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := make(map[string]bool, set.Len())
	for _, r := range set.Rules() {
		now[r.Name] = true
	}
	for name := range m.rules {
		if now[name] {
			continue
		}
		m.cache.Delete(name)
		m.evaluations.DeleteLabelValues(name)
		m.matches.DeleteLabelValues(name)
		m.errors.DeleteLabelValues(name)
		m.actions.DeletePartialMatch(prometheus.Labels{"rule": name})
	}
	m.rules = now
}

// typeCountersOf resolves the counters of every candidate of set, once
// per rule set (concurrent first users may each build it; same result).
func (m *pipelineMetrics) typeCountersOf(set *rules.Set) *typeCounters {
	tc := &typeCounters{set: set, byType: make(map[string][]prometheus.Counter, len(set.Types()))}
	for _, t := range set.Types() {
		cands := set.Candidates(t)
		cs := make([]prometheus.Counter, len(cands))
		for i, r := range cands {
			cs[i] = m.evaluationsOf(r.Name)
		}
		tc.byType[t] = cs
	}
	return tc
}

func (m *pipelineMetrics) evaluationsOf(rule string) prometheus.Counter {
	if c, ok := m.cache.Load(rule); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.cache.LoadOrStore(rule, m.evaluations.WithLabelValues(rule))
	return c.(prometheus.Counter)
}

func (m *pipelineMetrics) ruleMatch(rule string) { m.matches.WithLabelValues(rule).Inc() }

func (m *pipelineMetrics) shadowAction(rule string) { m.shadowActions.WithLabelValues(rule).Inc() }
func (m *pipelineMetrics) ruleError(rule string)    { m.errors.WithLabelValues(rule).Inc() }

func (m *pipelineMetrics) action(o Outcome) {
	m.actions.WithLabelValues(o.Rule, string(o.Outcome)).Inc()
}
