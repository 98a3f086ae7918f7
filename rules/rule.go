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
	CooldownKey string // the key's source; empty means one cooldown per rule

	when    *expression
	key     *expression
	actions []lockSeatExpr
}

// ActionCount returns how many actions the rule renders when it matches.
func (r *Rule) ActionCount() int { return len(r.actions) }

// lockSeatExpr is a compiled lock_seat action; a nil flag is Unset.
type lockSeatExpr struct {
	roomID      *expression
	index       *expression
	forbidTaken *expression
	forbidVideo *expression
	forbidAudio *expression
}

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
		when:        c.compile(rs.when, "when", boolKind),
		key:         c.compile(rs.cooldownKey, "cooldown key", anyKind),
	}
	for _, a := range rs.actions {
		r.actions = append(r.actions, lockSeatExpr{
			roomID:      c.compile(a.roomID, "room_id", stringKind),
			index:       c.compile(a.index, "index", intKind),
			forbidTaken: c.compile(a.forbidTaken, "forbid_taken", boolKind),
			forbidVideo: c.compile(a.forbidVideo, "forbid_video", boolKind),
			forbidAudio: c.compile(a.forbidAudio, "forbid_audio", boolKind),
		})
	}
	return r
}
