package replay

import (
	"strings"
	"testing"
	"time"
)

var labelRules = "rules:\n" + rule("flagged-join", "member.enter", "event.user.flagged", 2) +
	rule("reported", "user.flagged, member.enter", "event.user.score > 0.9", 1) + rule("nothing", "seat.taken", "true", 1)

// TestReplayLabels scores the rules on a crafted set with known
// answers.
func TestReplayLabels(t *testing.T) {
	js := newStream(t)
	enter := func(id string, flagged bool) event {
		return event{ID: id, Type: "member.enter", Time: at(time.Minute), RoomID: "room-" + id,
			User: &user{ID: id, Flagged: flagged}}
	}
	publish(t, js,
		enter("e1", true),  // abusive; flagged-join acts
		enter("e2", true),  // abusive; acts
		enter("e3", true),  // benign; acts
		enter("e4", true),  // unlabelled; acts
		enter("e5", false), // abusive; missed
		enter("e7", false), // benign
		event{ID: "e6", Type: "user.flagged", Time: at(time.Minute), RoomID: "r", User: &user{ID: "e6"}}, // abusive, another type
	)
	labels, err := ReadLabels(strings.NewReader(`{"event_id": "e1", "label": "abusive"}
{"event_id": "e2", "label": "abusive"}
{"event_id": "e3", "label": "benign", "by": "reviewer-7"}

{"event_id": "e5", "label": "abusive"}
{"event_id": "e6", "label": "abusive"}
{"event_id": "e7", "label": "benign"}
{"event_id": "e99", "label": "abusive"}
`), "labels.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	rep := replayAll(t, js, Config{Candidate: compile(t, labelRules), Labels: labels})
	tests := []struct {
		rule              string
		precision, recall *float64
	}{
		// acted on e1 e2 e3 (e4 unlabelled): 2 abusive of 3 labelled;
		// abusive member.enter events: e1 e2 e5.
		{"flagged-join", ptr(2.0 / 3), ptr(2.0 / 3)},
		// acted on nothing; abusive user.flagged and member.enter
		// events: e1 e2 e5 e6.
		{"reported", nil, ptr(0)},
		// no abusive seat.taken event: both 0/0.
		{"nothing", nil, nil},
	}
	for _, tc := range tests {
		got := ruleReport(t, rep, tc.rule)
		if !sameRatio(got.Precision, tc.precision) || !sameRatio(got.Recall, tc.recall) {
			t.Errorf("%s: precision %s, recall %s; want %s, %s", tc.rule, score(got.Precision), score(got.Recall),
				score(tc.precision), score(tc.recall))
		}
	}
}

func ptr(f float64) *float64 { return &f }

func sameRatio(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a-*b < 1e-9 && *b-*a < 1e-9
}

func TestReadLabels(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
		want              Labels
	}{
		{name: "good", in: "{\"event_id\": \"a\", \"label\": \"abusive\"}\n\n{\"event_id\": \"b\", \"label\": \"benign\"}\n",
			want: Labels{"a": true, "b": false}},
		{name: "same twice", in: "{\"event_id\": \"a\", \"label\": \"abusive\"}\n{\"event_id\": \"a\", \"label\": \"abusive\"}",
			want: Labels{"a": true}},
		{name: "not JSON", in: "{\"event_id\": \"a\", \"label\": \"abusive\"}\n\nnope\n", wantErr: "labels.jsonl:3: not a JSON object"},
		{name: "bad label", in: `{"event_id": "a", "label": "spam"}`, wantErr: `labels.jsonl:1: label "spam": want "abusive" or "benign"`},
		{name: "no id", in: `{"label": "benign"}`, wantErr: `labels.jsonl:1: missing "event_id"`},
		{name: "no label", in: `{"event_id": "a"}`, wantErr: `labels.jsonl:1: missing "label"`},
		{name: "conflict", in: "{\"event_id\": \"a\", \"label\": \"abusive\"}\n{\"event_id\": \"a\", \"label\": \"benign\"}",
			wantErr: `labels.jsonl:2: event "a" is labelled benign here and abusive on an earlier line`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLabels(strings.NewReader(tc.in), "labels.jsonl")
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			for id, abusive := range tc.want {
				if v, ok := got[id]; !ok || v != abusive {
					t.Errorf("label of %s: %v, %v; want %v", id, v, ok, abusive)
				}
			}
		})
	}
}
