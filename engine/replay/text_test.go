package replay

import (
	"strings"
	"testing"
	"time"
)

func TestWriteText(t *testing.T) {
	rep := &Report{Events: 12345, From: t0, Until: t0.Add(24 * time.Hour), Malformed: 2,
		FirstMalformed: "stream sequence 7 (rooms.events.x): malformed event: missing type", Outside: 1,
		Baseline: true, Labeled: true,
		Rules: []RuleReport{
			{Rule: "lock-reported", InCandidate: true, InBaseline: true, Matched: 1200, Actions: 40, Suppressed: 1160,
				Tripped: 3, BaselineActions: 38, OnlyCandidate: []string{"e1", "e2", "e3", "e4", "e5"}, OnlyCandidateCount: 7,
				Precision: ptr(0.75), Recall: ptr(0.5)},
			{Rule: "old-rule", InBaseline: true, BaselineActions: 2, OnlyBaseline: []string{"e9"}, OnlyBaselineCount: 1},
		}}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `replayed 12,345 events from 2026-11-25T21:00:00Z until 2026-11-26T21:00:00Z
2 messages could not be decoded and were skipped; the first: stream sequence 7 (rooms.events.x): malformed event: missing type
1 event stored in the range but timed outside it was not replayed

RULE           MATCHED  ACTIONS  SUPPRESSED  BASELINE  ONLY CANDIDATE  ONLY BASELINE  PRECISION  RECALL  NOTES
lock-reported  1,200    40       1,160       38        7               0              0.750      0.500   3 tripped
old-rule       -        -        -           2         0               1              -          -       baseline only

only the candidate acts on:
  lock-reported: e1 e2 e3 e4 e5 (and 2 more)

only the baseline acts on:
  old-rule: e9
`
	if b.String() != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", b.String(), want)
	}
}
