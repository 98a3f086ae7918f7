package rules

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Expect is one action a rule test expects: rendered by a rule (or, for
// unlock_seat, the undo of its lock) with the outcome it reached.
type Expect struct {
	Rule     string
	Kind     string        // KindLockSeat, KindUnlockSeat or KindLabel
	LockSeat LockSeat      // lock_seat and unlock_seat
	Label    Label         // label (List and Member; Bucket empty)
	Outcome  string        // "succeeded" when not given
	For      time.Duration // asserted only if HasFor
	HasFor   bool
	At       time.Duration // offset from the case start, asserted only if HasAt
	HasAt    bool
}

// Outcomes a rule test may expect.
var testOutcomes = []string{"succeeded", "overridden", "tripped", "failed"}

func (d *decoder) expectations(n *yaml.Node) []Expect {
	out := []Expect{}
	for _, it := range d.items(n, "expect") {
		out = append(out, d.expectation(it))
	}
	return out
}

func (d *decoder) expectation(n *yaml.Node) Expect {
	x := Expect{Outcome: "succeeded"}
	kind := func(k string, read func(*yaml.Node)) func(*yaml.Node) {
		return func(v *yaml.Node) {
			if x.Kind != "" {
				d.errorf(keyNode(n, k), "expected action holds one of lock_seat, unlock_seat and label, not both %s and %s", x.Kind, k)
				return
			}
			x.Kind = k
			read(v)
		}
	}
	seen := d.fields(n, "expected action", map[string]func(*yaml.Node){
		"rule":         func(v *yaml.Node) { x.Rule, _ = d.str(v, "rule") },
		KindLockSeat:   kind(KindLockSeat, func(v *yaml.Node) { d.wantSeat(v, &x.LockSeat, KindLockSeat) }),
		KindUnlockSeat: kind(KindUnlockSeat, func(v *yaml.Node) { d.wantSeat(v, &x.LockSeat, KindUnlockSeat) }),
		KindLabel:      kind(KindLabel, func(v *yaml.Node) { d.wantLabel(v, &x.Label) }),
		"outcome":      func(v *yaml.Node) { x.Outcome = d.outcome(v) },
		"for":          func(v *yaml.Node) { x.For, x.HasFor = d.duration(v, "for") },
		"at":           func(v *yaml.Node) { x.At, x.HasAt = d.offset(v) },
	})
	if n.Kind != yaml.MappingNode {
		return x
	}
	if !seen["rule"] || !seen[KindLockSeat] && !seen[KindUnlockSeat] && !seen[KindLabel] {
		d.errorf(n, "expected action needs rule and one of lock_seat, unlock_seat and label")
	}
	if seen["for"] && x.Kind == KindUnlockSeat {
		d.errorf(keyNode(n, "for"), "for applies to lock_seat and label; an unlock_seat has no duration")
	}
	return x
}

// outcome reads an expected outcome.
func (d *decoder) outcome(n *yaml.Node) string {
	s, ok := d.str(n, "outcome")
	for _, o := range testOutcomes {
		if ok && s == o {
			return s
		}
	}
	if ok {
		d.errorf(n, "unknown outcome %q%s", s, suggest(s, testOutcomes))
	}
	return "succeeded"
}

// wantSeat reads an expected lock_seat or unlock_seat. An unlock clears
// flags, so its flags are false.
func (d *decoder) wantSeat(n *yaml.Node, ls *LockSeat, what string) {
	flag := func(f *Flag, name string) func(*yaml.Node) {
		return func(v *yaml.Node) {
			b, ok := d.boolean(v, name)
			switch {
			case !ok:
			case b && what == KindUnlockSeat:
				d.errorf(v, "unlock_seat clears flags: write %s: false", name)
			default:
				*f = FlagOf(b)
			}
		}
	}
	d.fields(n, what, map[string]func(*yaml.Node){
		"room_id":      func(v *yaml.Node) { ls.RoomID, _ = d.str(v, "room_id") },
		"index":        func(v *yaml.Node) { ls.Index, _ = d.integer(v, "index") },
		"forbid_taken": flag(&ls.ForbidTaken, "forbid_taken"),
		"forbid_video": flag(&ls.ForbidVideo, "forbid_video"),
		"forbid_audio": flag(&ls.ForbidAudio, "forbid_audio"),
	})
}

// wantLabel reads an expected label.
func (d *decoder) wantLabel(n *yaml.Node, l *Label) {
	seen := d.fields(n, KindLabel, map[string]func(*yaml.Node){
		"list":   func(v *yaml.Node) { l.List, _ = d.str(v, "label list") },
		"member": func(v *yaml.Node) { l.Member, _ = d.str(v, "member") },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	for _, k := range []string{"list", "member"} {
		if !seen[k] {
			d.errorf(n, "label is missing %q, e.g. {list: watched, member: u1}", k)
		}
	}
}
