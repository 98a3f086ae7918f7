package rules

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Action kinds: what Action.Kind and Expect.Kind hold.
const (
	KindLockSeat   = "lock_seat"
	KindLabel      = "label"
	KindUnlockSeat = "unlock_seat" // the undo of a lock_seat with for; rendered by the engine, expected by rule tests
)

// Action is one rendered action.
type Action struct {
	Kind     string        // KindLockSeat or KindLabel
	LockSeat LockSeat      // lock_seat
	Label    Label         // label
	For      time.Duration // 0: no end (lock_seat) / never expires (label)
}

// Label is a rendered label action: add Member to the KV-backed list.
type Label struct {
	List   string // the list's name
	Bucket string // its KV bucket
	Member string
}

// actionSpec is the raw form of one action item: a lock_seat with an
// optional `for` beside it, or a label.
type actionSpec struct {
	kind string
	node *yaml.Node // the lock_seat or label mapping

	roomID      exprSpec
	index       exprSpec
	forbidTaken exprSpec
	forbidVideo exprSpec
	forbidAudio exprSpec

	list     string
	listNode *yaml.Node
	member   exprSpec

	dur durationSpec // `for`
}

// actionExpr is a compiled action.
type actionExpr struct {
	kind     string
	lockSeat lockSeatExpr
	label    labelExpr
	dur      *durationExpr // nil: no for
}

// lockSeatExpr is a compiled lock_seat action; a nil flag is Unset.
type lockSeatExpr struct {
	roomID      *expression
	index       *expression
	forbidTaken *expression
	forbidVideo *expression
	forbidAudio *expression
}

// labelExpr is a compiled label action.
type labelExpr struct {
	list   *List
	member *expression
}

func (d *decoder) actions(n *yaml.Node) []actionSpec {
	if isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errorf(n, "actions must list at least one action, e.g. - lock_seat: {...}")
		return nil
	}
	var out []actionSpec
	for _, it := range d.items(n, "actions") {
		if a, ok := d.action(it); ok {
			out = append(out, a)
		}
	}
	return out
}

// action reads one action item: `lock_seat: {...}` with an optional
// `for:` beside it, or `label: {...}`.
func (d *decoder) action(n *yaml.Node) (actionSpec, bool) {
	var a actionSpec
	if second := secondAction(n); second != nil {
		d.errorf(second, "each action item holds one action; start another item with \"- \"")
		return a, false
	}
	seen := d.fields(n, "action", map[string]func(*yaml.Node){
		KindLockSeat: func(v *yaml.Node) { a.kind = KindLockSeat; d.lockSeat(v, &a) },
		KindLabel:    func(v *yaml.Node) { a.kind = KindLabel; d.label(v, &a) },
		"for":        func(v *yaml.Node) { a.dur = d.lifetime(v) },
	})
	switch {
	case n.Kind != yaml.MappingNode:
	case a.kind == "" && seen["for"] && len(n.Content) == 2:
		d.errorf(n, "for needs an action beside it: - lock_seat: {...} then for: 10m on the next line")
	case a.kind == KindLabel && seen["for"]:
		d.errorf(keyNode(n, "for"), "a label's for goes inside it: label: {list: NAME, member: ..., for: 24h}")
	}
	return a, a.kind != ""
}

// secondAction returns the key of a second action in item n, or nil.
func secondAction(n *yaml.Node) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	first := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == KindLockSeat || k.Value == KindLabel {
			if first {
				return k
			}
			first = true
		}
	}
	return nil
}

// keyNode returns the key node of field name in mapping n, or n.
func keyNode(n *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i]
		}
	}
	return n
}

func (d *decoder) lockSeat(n *yaml.Node, a *actionSpec) {
	a.node = n
	seen := d.fields(n, KindLockSeat, map[string]func(*yaml.Node){
		"room_id":      func(v *yaml.Node) { a.roomID = d.expr(v, "room_id") },
		"index":        func(v *yaml.Node) { a.index = d.expr(v, "index") },
		"forbid_taken": func(v *yaml.Node) { a.forbidTaken = d.expr(v, "forbid_taken") },
		"forbid_video": func(v *yaml.Node) { a.forbidVideo = d.expr(v, "forbid_video") },
		"forbid_audio": func(v *yaml.Node) { a.forbidAudio = d.expr(v, "forbid_audio") },
		"for": func(*yaml.Node) {
			d.errorf(keyNode(n, "for"), "for goes beside lock_seat, not inside it: - lock_seat: {...} then for: 10m on the next line")
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	for _, k := range []string{"room_id", "index"} {
		if !seen[k] {
			d.errorf(n, "lock_seat is missing %q", k)
		}
	}
	if !seen["forbid_taken"] && !seen["forbid_video"] && !seen["forbid_audio"] {
		d.errorf(n, "lock_seat sets none of forbid_taken, forbid_video, forbid_audio")
	}
}

func (d *decoder) label(n *yaml.Node, a *actionSpec) {
	a.node = n
	seen := d.fields(n, KindLabel, map[string]func(*yaml.Node){
		"list": func(v *yaml.Node) {
			if s, ok := d.str(v, "label list"); ok {
				a.list, a.listNode = s, v
			}
		},
		"member": func(v *yaml.Node) { a.member = d.expr(v, "member") },
		"for":    func(v *yaml.Node) { a.dur = d.lifetime(v) },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	for _, k := range []string{"list", "member"} {
		if !seen[k] {
			d.errorf(n, "label is missing %q, e.g. {list: watched, member: event.user.id}", k)
		}
	}
}

// compileAction compiles one raw action; problems go to c.errs.
func (c *compiler) compileAction(a actionSpec) actionExpr {
	out := actionExpr{kind: a.kind, dur: c.compileDuration(a.dur)}
	switch a.kind {
	case KindLockSeat:
		out.lockSeat = lockSeatExpr{
			roomID:      c.compile(a.roomID, "room_id", stringKind),
			index:       c.compile(a.index, "index", intKind),
			forbidTaken: c.compile(a.forbidTaken, "forbid_taken", boolKind),
			forbidVideo: c.compile(a.forbidVideo, "forbid_video", boolKind),
			forbidAudio: c.compile(a.forbidAudio, "forbid_audio", boolKind),
		}
	case KindLabel:
		out.label = labelExpr{list: c.labelList(a), member: c.compile(a.member, "member", stringKind)}
	}
	return out
}

// labelList returns the KV list a label writes to, or nil after
// recording why it cannot.
func (c *compiler) labelList(a actionSpec) *List {
	if a.listNode == nil {
		return nil
	}
	l := c.sym.lists.byName[a.list]
	switch {
	case l == nil:
		hint := "; define it under lists: as NAME: {kv: BUCKET}"
		if names := c.sym.lists.kvNames(); len(names) > 0 {
			hint = suggest(a.list, names)
		}
		c.errs.add(c.path, a.listNode.Line, a.listNode.Column, "label list %q is not defined%s", a.list, hint)
		return nil
	case l.Bucket == "":
		c.errs.add(c.path, a.listNode.Line, a.listNode.Column, "label list %q is not a KV list (lists: {NAME: {kv: BUCKET}})", a.list)
		return nil
	}
	return l
}

// render renders a matching rule's action.
func (e *Evaluator) render(a *actionExpr, env any) (Action, error) {
	act := Action{Kind: a.kind}
	var err error
	switch a.kind {
	case KindLockSeat:
		act.LockSeat, err = e.lockSeat(&a.lockSeat, env)
	case KindLabel:
		act.Label, err = e.label(&a.label, env)
	}
	if err == nil && a.dur != nil {
		act.For, err = e.duration(a.dur, env)
	}
	return act, err
}

func (e *Evaluator) lockSeat(a *lockSeatExpr, env any) (LockSeat, error) {
	var ls LockSeat
	var err error
	if ls.RoomID, err = e.string(a.roomID, env); err != nil {
		return ls, err
	}
	if ls.Index, err = e.int(a.index, env); err != nil {
		return ls, err
	}
	if ls.ForbidTaken, err = e.flag(a.forbidTaken, env); err != nil {
		return ls, err
	}
	if ls.ForbidVideo, err = e.flag(a.forbidVideo, env); err != nil {
		return ls, err
	}
	ls.ForbidAudio, err = e.flag(a.forbidAudio, env)
	return ls, err
}

func (e *Evaluator) label(a *labelExpr, env any) (Label, error) {
	member, err := e.string(a.member, env)
	if err != nil {
		return Label{}, err
	}
	return Label{List: a.list.Name, Bucket: a.list.Bucket, Member: member}, nil
}
