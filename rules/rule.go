package rules

import (
	"time"
)

// Rule is one compiled rule. Rules are immutable once loaded and shared
// by every goroutine.
type Rule struct {
	Name        string
	Description string
	File        string // the file that defines the rule
	Line        int    // where the rule starts in File
	On          []string
	When        string // the condition's source
	Enabled     bool   // disabled rules are listed but never evaluated
	DryRun      bool   // render and log the actions, send nothing
	CooldownFor time.Duration
	CooldownKey string        // the key's source; empty means one cooldown per rule
	Budget      *ActionBudget // nil: none
	// Hash identifies the rule's definition: it changes when anything in
	// the rule's YAML changes (a comment aside), and only then; moving
	// the rule or editing the rest of the file leaves it alone.
	Hash string

	when    *expression
	key     *expression
	actions []actionExpr
}

// ActionCount returns how many actions the rule renders when it matches.
func (r *Rule) ActionCount() int { return len(r.actions) }

// compileRule compiles one raw rule; problems go to c.errs.
func (c *compiler) compileRule(rs ruleSpec) *Rule {
	r := &Rule{
		Name:        rs.name,
		Description: rs.description,
		File:        c.path,
		Line:        rs.node.Line,
		On:          rs.on,
		When:        rs.when.src,
		Enabled:     rs.enabled,
		DryRun:      rs.dryRun,
		CooldownFor: rs.cooldownFor,
		CooldownKey: rs.cooldownKey.src,
		Budget:      rs.budget,
		when:        c.compile(rs.when, "when", boolKind),
		key:         c.compile(rs.cooldownKey, "cooldown key", anyKind),
	}
	for _, a := range rs.actions {
		r.actions = append(r.actions, c.compileAction(a))
	}
	return r
}
