package replay

import (
	"encoding/json"
	"testing"
)

// TestReportJSON: the fields that do not apply are left out.
func TestReportJSON(t *testing.T) {
	rep := Report{Events: 3, From: t0, Until: t0, Partial: true, Malformed: 1, Baseline: true, Labeled: true,
		Rules: []RuleReport{
			{Rule: "both", InCandidate: true, InBaseline: true, Matched: 2, Actions: 1, Suppressed: 1, Overridden: 1,
				OnlyCandidate: []string{"e1"}, OnlyCandidateCount: 1, Recall: ptr(0)},
			{Rule: "old", InBaseline: true, BaselineActions: 2},
			{Rule: "new", InCandidate: true},
		}}
	got, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"events":3,"from":"2026-11-25T21:00:00Z","until":"2026-11-25T21:00:00Z","partial":true,"malformed":1,"rules":[` +
		`{"rule":"both","matched":2,"actions":1,"suppressed":1,"overridden":1,"baseline_actions":0,"only_candidate":["e1"],"only_candidate_count":1,"recall":0},` +
		`{"rule":"old","baseline_actions":2},` +
		`{"rule":"new","matched":0,"actions":0,"suppressed":0}]}`
	if string(got) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", got, want)
	}
}
