package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

const benchTypes = 20

// genRules returns a rules file of n rules; typeOf names rule i's event
// type. Conditions are simple: a numeric and a string comparison that
// both run (the score passes, the room does not match).
func genRules(n int, typeOf func(i int) string) []byte {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: rule-%d
    on: [%s]
    when: event.user.score > 0.5 && event.room_id == "room-%d"
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
    cooldown: {key: event.room_id, for: 1m}
`, i, typeOf(i), i)
	}
	return []byte(b.String())
}

func evenly(i int) string { return fmt.Sprintf("type.%02d", i%benchTypes) }

func benchEvent() *Event {
	return &Event{ID: "e1", Type: "type.00", RoomID: "room-none", User: User{ID: "u1", Score: 0.9}, Seat: Seat{Index: 2}}
}

// benchEval evaluates one event against s and reports the cost per
// candidate rule.
func benchEval(b *testing.B, s *Set) {
	b.Helper()
	ev := benchEvent()
	cands := len(s.Candidates(ev.Type))
	e := NewEvaluator()
	var ms []Match
	b.ReportAllocs()
	for b.Loop() {
		ms, _ = e.Eval(s, ev, t0, nil, ms[:0])
	}
	if len(ms) != 0 {
		b.Fatalf("%d matches, want none", len(ms))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(cands), "ns/candidate")
	b.ReportMetric(float64(cands), "candidates")
}

// BenchmarkEval evaluates one event against n rules spread evenly over
// 20 event types, so n/20 are candidates.
func BenchmarkEval(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		s, err := Compile(Source{Path: "bench.yaml", Data: genRules(n, evenly)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) { benchEval(b, s) })
	}
}

// BenchmarkEvalIsolation compares an event whose type has 10 rules with
// only those loaded against the same with 10,000 rules loaded.
func BenchmarkEvalIsolation(b *testing.B) {
	for _, total := range []int{10, 10000} {
		typeOf := func(i int) string {
			if i < 10 {
				return "type.00"
			}
			return fmt.Sprintf("type.%02d", 1+i%(benchTypes-1))
		}
		s, err := Compile(Source{Path: "bench.yaml", Data: genRules(total, typeOf)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("10of%d", total), func(b *testing.B) { benchEval(b, s) })
	}
}

// BenchmarkEvalMatch evaluates an event that 10 rules match, rendering
// their actions and checking their cooldowns.
func BenchmarkEvalMatch(b *testing.B) {
	s, err := Compile(Source{Path: "bench.yaml", Data: genRules(10, func(int) string { return "type.00" })})
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent()
	ev.RoomID = "room-3"
	e := NewEvaluator()
	var ms []Match
	b.ReportAllocs()
	for b.Loop() {
		ms, _ = e.Eval(s, ev, t0, nil, ms[:0])
	}
	if len(ms) != 1 {
		b.Fatalf("%d matches, want 1", len(ms))
	}
}

// BenchmarkCompile loads and compiles 1,000 rules.
func BenchmarkCompile(b *testing.B) {
	data := genRules(1000, evenly)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(Source{Path: "bench.yaml", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}

// stateRules is a set with windows and a KV list, for the benchmarks
// of the state path.
const stateRules = `lists:
  watched: {kv: watched_users}
windows:
  reports: {on: [type.00], when: event.user.score > 0.5, key: event.room_id + "/" + event.user.id, for: 1m, distinct: event.user.id}
rules:
  - name: member
    on: [type.00]
    when: event.user.id in lists.watched && window("reports") >= 3
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
  - name: whole-list
    on: [type.00]
    when: len(lists.watched) < 10
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
`

// BenchmarkFeeds renders an event's feeds: for a type with a window,
// and for one without (which must cost nothing).
func BenchmarkFeeds(b *testing.B) {
	s, err := Compile(Source{Path: "bench.yaml", Data: []byte(stateRules)})
	if err != nil {
		b.Fatal(err)
	}
	for _, typ := range []string{"type.00", "type.01"} {
		b.Run(typ, func(b *testing.B) {
			ev := benchEvent()
			ev.Type = typ
			e := NewEvaluator()
			var feeds []Feed
			b.ReportAllocs()
			for b.Loop() {
				feeds, _ = e.Feeds(s, ev, t0, feeds[:0])
			}
		})
	}
}

// BenchmarkEvalKV evaluates rules reading a window and a KV list of
// 100,000 members: membership is one lookup, and the sorted list is
// built once while the Reader returns the same map.
func BenchmarkEvalKV(b *testing.B) {
	s, err := Compile(Source{Path: "bench.yaml", Data: []byte(stateRules)})
	if err != nil {
		b.Fatal(err)
	}
	members := make([]string, 100_000)
	for i := range members {
		members[i] = fmt.Sprintf("user-%06d", i)
	}
	r := &fakeReader{counts: map[string]int{"reports room-none/u1": 3}, members: map[string][]string{"watched": members}}
	ev := benchEvent()
	e := NewEvaluator()
	var ms []Match
	b.ReportAllocs()
	for b.Loop() {
		r.reads = r.reads[:0]
		if ms, err = e.Eval(s, ev, t0, r, ms[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvalWorkload evaluates events like the pipeline benchmark's
// that match no rule (a user on one of 8 seats, one in 20 flagged)
// against its rules (internal/benchtest).
func BenchmarkEvalWorkload(b *testing.B) {
	events := make([]*Event, 256)
	for i := range events {
		events[i] = &Event{ID: "e", Type: benchtest.Type(i * 7), RoomID: fmt.Sprintf("room-%d", i),
			User: User{ID: fmt.Sprintf("u-%d", i), Flagged: i%20 == 0, Labels: []string{"new"}, Score: float64(i%80) / 100},
			Seat: Seat{Index: i % 8}}
	}
	for _, n := range []int{100, 10000} {
		s, err := Compile(Source{Path: "bench.yaml", Data: benchtest.RulesYAML(n)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			e := NewEvaluator()
			var ms []Match
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				ms, _ = e.Eval(s, events[i%len(events)], t0, nil, ms[:0])
				i++
			}
			if len(ms) != 0 {
				b.Fatalf("%d matches, want none", len(ms))
			}
		})
	}
}
