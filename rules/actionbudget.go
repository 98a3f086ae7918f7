package rules

import (
	"time"

	"gopkg.in/yaml.v3"
)

// ActionBudget caps how often a rule may act: when its actions would
// exceed Max in any Per, the rule trips (the engine keeps the count, as
// it is state shared by all replicas). Not to be confused with the
// evaluation budgets of budget.go, which bound one evaluation's work.
type ActionBudget struct {
	Max int
	Per time.Duration
}

// actionBudget reads a rule's `budget: {max: 50, per: 1m}`. It returns
// nil after recording a problem.
func (d *decoder) actionBudget(n *yaml.Node) *ActionBudget {
	var b ActionBudget
	var maxOK, perOK bool
	seen := d.fields(n, "budget", map[string]func(*yaml.Node){
		"max": func(v *yaml.Node) {
			if b.Max, maxOK = d.integer(v, "budget max"); maxOK && b.Max < 1 {
				d.errorf(v, "budget max must be at least 1, got %d", b.Max)
				maxOK = false
			}
		},
		"per": func(v *yaml.Node) { b.Per, perOK = d.duration(v, "budget per") },
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, k := range []string{"max", "per"} {
		if !seen[k] {
			d.errorf(n, "budget is missing %q, e.g. {max: 50, per: 1m}", k)
		}
	}
	if !maxOK || !perOK {
		return nil
	}
	return &b
}
