package rules

import (
	"fmt"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// fileSpec is the raw, uncompiled form of one rules file.
type fileSpec struct {
	lists   []listSpec
	windows []windowSpec
	rules   []ruleSpec
}

// exprSpec is the source of one expression and the YAML scalar holding
// it. A nil node means the field was not given.
type exprSpec struct {
	src  string
	node *yaml.Node
}

// ruleSpec is the raw form of one rule.
type ruleSpec struct {
	node        *yaml.Node
	name        string
	nameNode    *yaml.Node
	description string
	on          []string
	when        exprSpec
	actions     []actionSpec
	cooldownKey exprSpec
	cooldownFor time.Duration
	budget      *ActionBudget
	enabled     bool
	dryRun      bool
}

var (
	ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	listNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// parseFile reads one rules file into its raw form, recording every
// problem in errs.
func parseFile(path string, data []byte, errs *ErrorList) fileSpec {
	d := &decoder{path: path, errs: errs}
	var f fileSpec
	root := d.parseDocument(data)
	if isNull(root) {
		return f
	}
	d.fields(root, "rules file", map[string]func(*yaml.Node){
		"lists":   func(v *yaml.Node) { f.lists = d.lists(v) },
		"windows": func(v *yaml.Node) { f.windows = d.windows(v) },
		"rules":   func(v *yaml.Node) { f.rules = d.rules(v) },
	})
	return f
}

func (d *decoder) rules(n *yaml.Node) []ruleSpec {
	if isNull(n) {
		return nil
	}
	var out []ruleSpec
	for i, it := range d.items(n, "rules") {
		out = append(out, d.rule(it, i))
	}
	return out
}

// ruleLabel names a rule in messages before its fields are read.
func ruleLabel(n *yaml.Node, i int) string {
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if v := resolve(n.Content[j+1]); n.Content[j].Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				return fmt.Sprintf("rule %q", v.Value)
			}
		}
	}
	return fmt.Sprintf("rule #%d", i+1)
}

func (d *decoder) rule(n *yaml.Node, i int) ruleSpec {
	r := ruleSpec{node: n, enabled: true}
	label := ruleLabel(n, i)
	seen := d.fields(n, label, map[string]func(*yaml.Node){
		"name":        func(v *yaml.Node) { r.name, r.nameNode = d.ruleName(v), v },
		"description": func(v *yaml.Node) { r.description, _ = d.str(v, "description") },
		"on":          func(v *yaml.Node) { r.on = d.eventTypes(v) },
		"when":        func(v *yaml.Node) { r.when = d.expr(v, "when") },
		"actions":     func(v *yaml.Node) { r.actions = d.actions(v) },
		"cooldown":    func(v *yaml.Node) { d.cooldown(v, &r) },
		"budget":      func(v *yaml.Node) { r.budget = d.actionBudget(v) },
		"enabled":     func(v *yaml.Node) { r.enabled, _ = d.boolean(v, "enabled") },
		"dry_run":     func(v *yaml.Node) { r.dryRun, _ = d.boolean(v, "dry_run") },
	})
	if n.Kind != yaml.MappingNode {
		return r
	}
	for _, k := range []string{"name", "on", "when", "actions"} {
		if !seen[k] {
			d.errorf(n, "%s is missing %q", label, k)
		}
	}
	return r
}

func (d *decoder) ruleName(n *yaml.Node) string {
	s, ok := d.str(n, "name")
	if ok && !ruleNameRE.MatchString(s) {
		d.errorf(n, "rule name %q must start with a letter or digit and hold only letters, digits, '.', '_' and '-'", s)
	}
	return s
}

func (d *decoder) eventTypes(n *yaml.Node) []string {
	if isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errorf(n, "on must list at least one event type, e.g. [member.enter]")
		return nil
	}
	var types []string
	seen := make(map[string]bool)
	for _, it := range d.items(n, "on") {
		t, ok := d.str(it, "event type")
		switch {
		case !ok:
		case t == "":
			d.errorf(it, "event type must not be empty")
		case seen[t]:
			d.errorf(it, "event type %q listed twice in on", t)
		default:
			seen[t] = true
			types = append(types, t)
		}
	}
	return types
}

// expr reads a scalar that holds an expression; YAML literals such as 2
// or true are expressions too.
func (d *decoder) expr(n *yaml.Node, what string) exprSpec {
	s, ok := d.str(n, what)
	if !ok {
		return exprSpec{}
	}
	if s == "" {
		d.errorf(n, "%s must not be empty", what)
		return exprSpec{}
	}
	return exprSpec{src: s, node: n}
}

func (d *decoder) cooldown(n *yaml.Node, r *ruleSpec) {
	seen := d.fields(n, "cooldown", map[string]func(*yaml.Node){
		"key": func(v *yaml.Node) { r.cooldownKey = d.expr(v, "cooldown key") },
		"for": func(v *yaml.Node) { r.cooldownFor, _ = d.duration(v, "cooldown for") },
	})
	if n.Kind == yaml.MappingNode && !seen["for"] {
		d.errorf(n, "cooldown is missing \"for\", e.g. {key: event.room_id, for: 1m}")
	}
}
