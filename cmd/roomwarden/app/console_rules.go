package app

import (
	"math"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/roomwarden/roomwarden/rules"
)

// consoleRule is a rule in force with what the daemon's own counters
// say about it.
type consoleRule struct {
	ruleView
	ruleCounts
	// ShadowOnly marks a name that is not in the rule set but has shadow
	// actions: a candidate rule of rules.shadow_dir.
	ShadowOnly bool `json:"shadow_only,omitempty"`
}

// ruleCounts are one rule's counters.
type ruleCounts struct {
	Evaluations int64            `json:"evaluations"`
	Matches     int64            `json:"matches"`
	Errors      int64            `json:"errors"`
	Shadow      int64            `json:"shadow"`
	Actions     map[string]int64 `json:"actions"` // by outcome
}

// counters is what the console reads from the registry.
type counters struct {
	byRule map[string]*ruleCounts
	events int64
}

// gatherRuleCounts reads the per-rule counters from the daemon's own
// registry, so the console shows exactly what /metrics does.
func gatherRuleCounts(g prometheus.Gatherer) counters {
	c := counters{byRule: map[string]*ruleCounts{}}
	mfs, _ := g.Gather() // a partial result is still worth showing
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			c.add(mf.GetName(), m)
		}
	}
	return c
}

func (c *counters) add(family string, m *dto.Metric) {
	v := int64(math.Round(m.GetCounter().GetValue()))
	if family == "roomwarden_events_received_total" {
		c.events = v
		return
	}
	rule := label(m, "rule")
	if rule == "" {
		return
	}
	rc := c.rule(rule)
	switch family {
	case "roomwarden_rule_evaluations_total":
		rc.Evaluations = v
	case "roomwarden_rule_matches_total":
		rc.Matches = v
	case "roomwarden_rule_errors_total":
		rc.Errors = v
	case "roomwarden_shadow_actions_total":
		rc.Shadow = v
	case "roomwarden_actions_total":
		if v > 0 {
			rc.Actions[label(m, "outcome")] += v
		}
	}
}

func (c *counters) rule(name string) *ruleCounts {
	rc, ok := c.byRule[name]
	if !ok {
		rc = &ruleCounts{Actions: map[string]int64{}}
		c.byRule[name] = rc
	}
	return rc
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// consoleRules lists the rules in force with their counts, then the
// names that only shadow actions know.
func consoleRules(set *rules.Set, c counters) []consoleRule {
	out := []consoleRule{}
	seen := map[string]bool{}
	for _, rv := range viewRules(set).Rules {
		seen[rv.Name] = true
		out = append(out, consoleRule{ruleView: rv, ruleCounts: *c.rule(rv.Name)})
	}
	var shadow []string
	for name, rc := range c.byRule {
		if !seen[name] && rc.Shadow > 0 {
			shadow = append(shadow, name)
		}
	}
	slices.Sort(shadow)
	for _, name := range shadow {
		out = append(out, consoleRule{ruleView: ruleView{Name: name, On: []string{}}, ruleCounts: *c.byRule[name], ShadowOnly: true})
	}
	return out
}
