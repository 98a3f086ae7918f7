package replay

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var (
	candidateRules = "rules:\n" + rule("lock-scored", "user.flagged", `event.user.score > 0.5 && !has_label("vip")`, 1) +
		rule("candidate-only", "user.flagged", "event.user.score > 0.95", 2)
	baselineRules = "rules:\n" + rule("lock-scored", "user.flagged", "event.user.score > 0.8", 1) +
		rule("baseline-only", "user.flagged", "event.user.score > 0.99", 3)
)

// TestReplayBaseline: the baseline runs beside the candidate, and the
// events that act in one set only are named, five at most.
func TestReplayBaseline(t *testing.T) {
	js := newStream(t)
	var onlyCand, onlyBase []string
	publishScored := func(prefix string, n int, score float64, labels []string, into *[]string) {
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i)
			publish(t, js, event{ID: id, Type: "user.flagged", Time: at(time.Duration(i) * time.Second),
				RoomID: "room-" + id, User: &user{ID: id, Score: 0.01 + score, Labels: labels}})
			if into != nil {
				*into = append(*into, id)
			}
		}
	}
	publishScored("mid", 8, 0.6, nil, &onlyCand)               // candidate only (0.5 < 0.61 <= 0.8)
	publishScored("high", 3, 0.9, nil, nil)                    // both
	publishScored("vip", 2, 0.9, []string{"vip"}, &onlyBase)   // baseline only
	publishScored("low", 4, 0.1, nil, nil)                     // neither
	publishScored("top", 1, 0.995, []string{"vip"}, &onlyBase) // baseline only, and both *-only rules

	rep := replayAll(t, js, Config{Candidate: compile(t, candidateRules), Baseline: compile(t, baselineRules)})
	got := ruleReport(t, rep, "lock-scored")
	if got.Actions != 11 || got.BaselineActions != 6 {
		t.Errorf("lock-scored: actions %d, baseline %d; want 11, 6", got.Actions, got.BaselineActions)
	}
	if !slices.Equal(got.OnlyCandidate, onlyCand[:MaxSamples]) || got.OnlyCandidateCount != len(onlyCand) {
		t.Errorf("only_candidate %v (%d), want %v (%d)", got.OnlyCandidate, got.OnlyCandidateCount, onlyCand[:MaxSamples], len(onlyCand))
	}
	if !slices.Equal(got.OnlyBaseline, onlyBase) || got.OnlyBaselineCount != len(onlyBase) {
		t.Errorf("only_baseline %v (%d), want %v", got.OnlyBaseline, got.OnlyBaselineCount, onlyBase)
	}
	cand, base := ruleReport(t, rep, "candidate-only"), ruleReport(t, rep, "baseline-only")
	if !cand.InCandidate || cand.InBaseline || !slices.Equal(cand.OnlyCandidate, []string{"top-0"}) || cand.OnlyBaseline != nil {
		t.Errorf("candidate-only: %+v, want only in the candidate, acting on top-0", cand)
	}
	if base.InCandidate || !base.InBaseline || base.BaselineActions != 1 || !slices.Equal(base.OnlyBaseline, []string{"top-0"}) {
		t.Errorf("baseline-only: %+v, want only in the baseline, acting on top-0", base)
	}
	if names := ruleNames(rep); !slices.Equal(names, []string{"lock-scored", "candidate-only", "baseline-only"}) {
		t.Errorf("rules %v, want the candidate's then the baseline's own", names)
	}
}

func ruleNames(rep *Report) []string {
	var out []string
	for _, r := range rep.Rules {
		out = append(out, r.Rule)
	}
	return out
}
