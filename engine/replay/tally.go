package replay

import (
	"slices"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/offline"
	"github.com/roomwarden/roomwarden/rules"
)

// MaxSamples is how many event ids a rule keeps of those that act in
// one set and not the other; beyond them it only counts.
const MaxSamples = 5

// tally counts what the rules of one name did over the replay.
type tally struct {
	rule                    string
	inCandidate, inBaseline bool
	on                      []string // the candidate rule's event types

	matched, actions, suppressed, overridden, tripped, failed, errors int
	baselineActions                                                   int
	onlyCandidate, onlyBaseline                                       samples
	labelled, abusive                                                 int // labelled events it acted on; of them, abusive

	// candAt and baseAt are the number of the last event the rule acted
	// on in each set, plus one (0: none yet).
	candAt, baseAt int
}

// samples counts events and keeps the first MaxSamples ids.
type samples struct {
	ids []string
	n   int
}

func (s *samples) add(id string) {
	if s.n++; len(s.ids) < MaxSamples {
		s.ids = append(s.ids, id)
	}
}

// tallies are the counts of every rule of both sets, and what the
// current event did.
type tallies struct {
	list    []*tally
	byName  map[string]*tally
	labels  Labels
	event   int      // the current event's number, plus one
	touched []*tally // the rules that acted on the current event, in either set
	// abusiveByType counts the labelled-abusive events replayed, by type.
	abusiveByType map[string]int
}

func newTallies(candidate, baseline *rules.Set, labels Labels) *tallies {
	t := &tallies{byName: make(map[string]*tally), labels: labels, abusiveByType: make(map[string]int), event: 1}
	for _, r := range candidate.Rules() {
		tl := t.rule(r.Name)
		tl.inCandidate, tl.on = true, r.On
	}
	if baseline != nil {
		for _, r := range baseline.Rules() {
			t.rule(r.Name).inBaseline = true
		}
	}
	return t
}

// rule returns the tally of the rules named name, adding it if new.
func (t *tallies) rule(name string) *tally {
	tl := t.byName[name]
	if tl == nil {
		tl = &tally{rule: name}
		t.byName[name] = tl
		t.list = append(t.list, tl)
	}
	return tl
}

// candidate counts what the candidate set did on the current event.
func (t *tallies) candidate(step offline.Step) {
	for _, m := range step.Matched {
		tl := t.byName[m.Rule.Name]
		if m.Err != nil {
			tl.errors++
			continue
		}
		tl.matched++
	}
	for _, dec := range step.Decisions {
		tl := t.byName[dec.Rule.Name]
		switch dec.Outcome {
		case "":
			tl.actions++
			t.acted(tl, &tl.candAt)
		case engine.Suppressed:
			tl.suppressed++
		case engine.Overridden:
			tl.overridden++
		case engine.Tripped:
			tl.tripped++
		case engine.Failed:
			tl.failed++
		}
	}
}

// baseline counts what the baseline set did on the current event.
func (t *tallies) baseline(step offline.Step) {
	for _, dec := range step.Decisions {
		if dec.Outcome == "" {
			tl := t.byName[dec.Rule.Name]
			tl.baselineActions++
			t.acted(tl, &tl.baseAt)
		}
	}
}

// acted notes that tl acted on the current event in the set whose
// mark at is.
func (t *tallies) acted(tl *tally, at *int) {
	if tl.candAt != t.event && tl.baseAt != t.event {
		t.touched = append(t.touched, tl)
	}
	*at = t.event
}

// done closes the current event: it compares the sets, scores the
// labels, and moves on.
func (t *tallies) done(ev *rules.Event, compare bool) {
	abusive, labelled := t.labels[ev.ID]
	if labelled && abusive {
		t.abusiveByType[ev.Type]++
	}
	for _, tl := range t.touched {
		inCand, inBase := tl.candAt == t.event, tl.baseAt == t.event
		switch {
		case compare && inCand && !inBase:
			tl.onlyCandidate.add(ev.ID)
		case compare && inBase && !inCand:
			tl.onlyBaseline.add(ev.ID)
		}
		if inCand && labelled {
			tl.labelled++
			if abusive {
				tl.abusive++
			}
		}
	}
	t.touched = t.touched[:0]
	t.event++
}

// recallBase is how many labelled-abusive events of the types tl's
// candidate rule listens for were replayed.
func (t *tallies) recallBase(tl *tally) int {
	n := 0
	for i, typ := range tl.on {
		if !slices.Contains(tl.on[:i], typ) {
			n += t.abusiveByType[typ]
		}
	}
	return n
}
