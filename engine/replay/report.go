package replay

import (
	"encoding/json"
	"time"
)

// Report is what a replay found.
type Report struct {
	// Events is how many events were replayed: decoded, within the range
	// by their own time, and decided.
	Events int
	// From and Until are the range replayed, in event time: the range
	// asked for, or where it was open, the first and last event times
	// replayed. Zero when the replay found no event and none was asked.
	From, Until time.Time
	// Malformed counts the messages the decoder refused (each skipped,
	// as the daemon dead-letters it); FirstMalformed says why the first
	// was, with its stream sequence.
	Malformed      int
	FirstMalformed string
	// Outside counts the events read whose own time fell outside the
	// range (see Range): not replayed.
	Outside int
	// WindowErrors counts the times a window failed on an event and did
	// not count it; CooldownOverflows the actions let through because
	// the cooldown table was full (cooldowns.max_keys).
	WindowErrors, CooldownOverflows int
	// Partial is set when the replay was stopped before the range's end.
	Partial bool
	// Baseline and Labeled say whether a baseline set and labels were
	// given, so which columns apply.
	Baseline, Labeled bool
	// Stream is the stream's bounds when the replay started.
	Stream Bounds
	// Rules are the candidate's rules in their order, then the rules
	// only the baseline has.
	Rules []RuleReport
}

// RuleReport is what the rules of one name did.
type RuleReport struct {
	Rule string
	// InCandidate and InBaseline say which sets have the rule.
	InCandidate, InBaseline bool
	// Matched counts the events on which the candidate rule's condition
	// held (Errors those on which it failed at run time). Actions,
	// Suppressed, Overridden, Tripped and Failed count its actions by
	// what they came to: would run (and, in the replay, succeeded),
	// held back by the cooldown, by a moderator's override, by the
	// rule's budget, or refused for parameters the Room Engine would
	// refuse. A rule with two actions counts two per match.
	Matched, Actions, Suppressed, Overridden, Tripped, Failed, Errors int
	// BaselineActions counts the baseline rule's actions that would run.
	BaselineActions int
	// OnlyCandidate and OnlyBaseline are up to MaxSamples ids of events
	// the rule acted on in one set and not the other; the counts are of
	// all such events.
	OnlyCandidate, OnlyBaseline           []string
	OnlyCandidateCount, OnlyBaselineCount int
	// Precision and Recall score the candidate rule against the labels;
	// nil where undefined (no labels, or 0/0).
	Precision, Recall *float64
}

// report builds the report's rules from the tallies.
func (t *tallies) report(baseline, labeled bool) []RuleReport {
	out := make([]RuleReport, 0, len(t.list))
	for _, tl := range t.list {
		r := RuleReport{Rule: tl.rule, InCandidate: tl.inCandidate, InBaseline: tl.inBaseline,
			Matched: tl.matched, Actions: tl.actions, Suppressed: tl.suppressed, Overridden: tl.overridden,
			Tripped: tl.tripped, Failed: tl.failed, Errors: tl.errors, BaselineActions: tl.baselineActions,
			OnlyCandidate: tl.onlyCandidate.ids, OnlyCandidateCount: tl.onlyCandidate.n,
			OnlyBaseline: tl.onlyBaseline.ids, OnlyBaselineCount: tl.onlyBaseline.n}
		if labeled && tl.inCandidate {
			r.Precision = ratio(tl.abusive, tl.labelled)
			r.Recall = ratio(tl.abusive, t.recallBase(tl))
		}
		out = append(out, r)
	}
	return out
}

// ratio is n/d, or nil when d is 0.
func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// reportJSON is the JSON document of a Report (see MarshalJSON).
type reportJSON struct {
	Events            int        `json:"events"`
	From              *time.Time `json:"from,omitempty"`
	Until             *time.Time `json:"until,omitempty"`
	Partial           bool       `json:"partial,omitempty"`
	Malformed         int        `json:"malformed,omitempty"`
	Outside           int        `json:"outside_range,omitempty"`
	WindowErrors      int        `json:"window_errors,omitempty"`
	CooldownOverflows int        `json:"cooldown_overflows,omitempty"`
	Rules             []ruleJSON `json:"rules"`
}

type ruleJSON struct {
	Rule               string   `json:"rule"`
	Matched            *int     `json:"matched,omitempty"`
	Actions            *int     `json:"actions,omitempty"`
	Suppressed         *int     `json:"suppressed,omitempty"`
	Overridden         int      `json:"overridden,omitempty"`
	Tripped            int      `json:"tripped,omitempty"`
	Failed             int      `json:"failed,omitempty"`
	Errors             int      `json:"errors,omitempty"`
	BaselineActions    *int     `json:"baseline_actions,omitempty"`
	OnlyCandidate      []string `json:"only_candidate,omitempty"`
	OnlyCandidateCount int      `json:"only_candidate_count,omitempty"`
	OnlyBaseline       []string `json:"only_baseline,omitempty"`
	OnlyBaselineCount  int      `json:"only_baseline_count,omitempty"`
	Precision          *float64 `json:"precision,omitempty"`
	Recall             *float64 `json:"recall,omitempty"`
}

// MarshalJSON writes the report as `roomwarden replay --json` prints
// it: fields that do not apply are left out (the candidate's counts of
// a rule only the baseline has, baseline_actions without a baseline,
// precision and recall without labels or where 0/0), and so are the
// extra counts when zero.
func (r Report) MarshalJSON() ([]byte, error) {
	doc := reportJSON{Events: r.Events, From: timeOrNil(r.From), Until: timeOrNil(r.Until), Partial: r.Partial,
		Malformed: r.Malformed, Outside: r.Outside, WindowErrors: r.WindowErrors,
		CooldownOverflows: r.CooldownOverflows, Rules: make([]ruleJSON, len(r.Rules))}
	for i, rr := range r.Rules {
		doc.Rules[i] = rr.json(r.Baseline)
	}
	return json.Marshal(doc)
}

func (rr RuleReport) json(baseline bool) ruleJSON {
	j := ruleJSON{Rule: rr.Rule, Overridden: rr.Overridden, Tripped: rr.Tripped, Failed: rr.Failed, Errors: rr.Errors,
		OnlyCandidate: rr.OnlyCandidate, OnlyCandidateCount: rr.OnlyCandidateCount,
		OnlyBaseline: rr.OnlyBaseline, OnlyBaselineCount: rr.OnlyBaselineCount,
		Precision: rr.Precision, Recall: rr.Recall}
	if rr.InCandidate {
		j.Matched, j.Actions, j.Suppressed = &rr.Matched, &rr.Actions, &rr.Suppressed
	}
	if baseline && rr.InBaseline {
		j.BaselineActions = &rr.BaselineActions
	}
	return j
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
