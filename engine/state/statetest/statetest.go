// Package statetest is the conformance suite every state.Store passes:
// the in-memory one and the JetStream one run the same tests, so rule
// tests, replay and explain decide exactly as the daemon does.
package statetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
)

// Open returns a fresh, empty store for one test.
type Open func(t *testing.T) state.Store

// base is the suite's clock origin: a time in the past, so that
// implementations must use the times they are given, not their own.
var base = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// Run runs the whole suite against stores made by open.
func Run(t *testing.T, open Open) {
	t.Run("Cooldowns", func(t *testing.T) { testCooldowns(t, open(t)) })
	t.Run("CooldownsConcurrent", func(t *testing.T) { testCooldownsConcurrent(t, open(t)) })
	t.Run("Windows", func(t *testing.T) { testWindows(t, open(t)) })
	t.Run("WindowsDistinct", func(t *testing.T) { testWindowsDistinct(t, open(t)) })
	t.Run("WindowsConcurrent", func(t *testing.T) { testWindowsConcurrent(t, open(t)) })
	t.Run("WindowsCommitOrder", func(t *testing.T) { testWindowsCommitOrder(t, open(t)) })
	t.Run("Labels", func(t *testing.T) { testLabels(t, open(t)) })
	t.Run("Locks", func(t *testing.T) { testLocks(t, open(t)) })
	t.Run("Overrides", func(t *testing.T) { testOverrides(t, open(t)) })
	t.Run("Budgets", func(t *testing.T) { testBudgets(t, open(t)) })
	t.Run("BudgetsConcurrent", func(t *testing.T) { testBudgetsConcurrent(t, open(t)) })
}

// res carries a store call's results to must, which fails the test on
// an error: of(s.Acquire(...)).must(t).
type res[T any] struct {
	v   T
	err error
}

func of[T any](v T, err error) res[T] { return res[T]{v, err} }

func (r res[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("store: %v", r.err)
	}
	return r.v
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("store: %v", err)
	}
}

func testCooldowns(t *testing.T, s state.Store) {
	ctx := t.Context()
	steps := []struct {
		name        string
		key, origin string
		at          time.Duration
		want        bool
	}{
		{"the first acquires", "r/k", "o1", 0, true},
		{"another origin is suppressed", "r/k", "o2", 10 * time.Second, false},
		{"the same origin again acts (a redelivery)", "r/k", "o1", 20 * time.Second, true},
		{"another key is free", "r/other", "o2", 21 * time.Second, true},
		{"still cooling: suppression does not extend it", "r/k", "o3", 59 * time.Second, false},
		{"expired: acquired again", "r/k", "o4", 60 * time.Second, true},
		{"now o4 owns it", "r/k", "o1", 61 * time.Second, false},
	}
	for _, st := range steps {
		if got := of(s.Acquire(ctx, st.key, st.origin, at(st.at), time.Minute)).must(t); got != st.want {
			t.Errorf("%s: Acquire(%s, %s, +%v) = %v, want %v", st.name, st.key, st.origin, st.at, got, st.want)
		}
	}
	if until := of(s.CoolingUntil(ctx, "r/k", at(90*time.Second))).must(t); !until.Equal(at(2 * time.Minute)) {
		t.Errorf("CoolingUntil at +90s = %v, want %v", until, at(2*time.Minute))
	}
	if until := of(s.CoolingUntil(ctx, "r/k", at(2*time.Minute))).must(t); !until.IsZero() {
		t.Errorf("CoolingUntil at the end = %v, want zero (not cooling)", until)
	}
	if until := of(s.CoolingUntil(ctx, "never", at(0))).must(t); !until.IsZero() {
		t.Errorf("CoolingUntil of an unknown key = %v, want zero", until)
	}
}

// testCooldownsConcurrent: many acquirers of one key at one time, as
// replicas are: exactly one acts.
func testCooldownsConcurrent(t *testing.T, stores ...state.Store) {
	var wg sync.WaitGroup
	var allowed atomic.Int32
	for i := range 16 {
		s := stores[i%len(stores)]
		wg.Go(func() {
			ok, err := s.Acquire(context.Background(), "race", fmt.Sprint("origin-", i), at(0), time.Minute)
			if err != nil {
				t.Errorf("Acquire: %v", err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 1 {
		t.Errorf("%d of 16 concurrent acquirers may act, want exactly 1", n)
	}
}

func feed(window, key, event, value string, when time.Duration) state.Feed {
	return state.Feed{Window: window, Key: key, EventID: event, Value: value, Span: time.Minute, At: at(when)}
}

func testWindows(t *testing.T, s state.Store) {
	ctx := t.Context()
	steps := []struct {
		name string
		f    state.Feed
		want int
	}{
		{"first", feed("w", "k", "e1", "", 0), 1},
		{"second", feed("w", "k", "e2", "", 10*time.Second), 2},
		{"the same event again is not counted twice", feed("w", "k", "e2", "", 20*time.Second), 2},
		{"another key is counted apart", feed("w", "k2", "e3", "", 20*time.Second), 1},
		{"another window is counted apart", feed("w2", "k", "e4", "", 20*time.Second), 1},
		{"third within the minute", feed("w", "k", "e5", "", 59*time.Second), 3},
		{"at the edge the first falls out", feed("w", "k", "e6", "", 60*time.Second), 3},
		{"later only the recent ones count", feed("w", "k", "e7", "", 2*time.Minute), 1},
	}
	for _, st := range steps {
		if got := of(s.Feed(ctx, st.f, false)).must(t); got != st.want {
			t.Errorf("%s: Feed(%s %s %s at +%v) = %d, want %d", st.name, st.f.Window, st.f.Key, st.f.EventID,
				st.f.At.Sub(base), got, st.want)
		}
	}
	counts := []struct {
		at   time.Duration
		want int
	}{{2 * time.Minute, 1}, {2*time.Minute + 59*time.Second, 1}, {3 * time.Minute, 0}}
	for _, c := range counts {
		if got := of(s.Count(ctx, "w", "k", time.Minute, false, at(c.at))).must(t); got != c.want {
			t.Errorf("Count at +%v = %d, want %d", c.at, got, c.want)
		}
	}
	if got := of(s.Count(ctx, "none", "k", time.Minute, false, at(0))).must(t); got != 0 {
		t.Errorf("Count of an unknown window = %d, want 0", got)
	}
}

func testWindowsDistinct(t *testing.T, s state.Store) {
	ctx := t.Context()
	steps := []struct {
		f    state.Feed
		want int
	}{
		{feed("reports", "room/u1", "e1", "reporter-a", 0), 1},
		{feed("reports", "room/u1", "e2", "reporter-a", 5*time.Second), 1},
		{feed("reports", "room/u1", "e3", "reporter-b", 6*time.Second), 2},
		{feed("reports", "room/u1", "e4", "reporter-c", 7*time.Second), 3},
		{feed("reports", "room/u1", "e5", "reporter-a", 61*time.Second), 3}, // e1 fell out, e2 still holds a
	}
	for i, st := range steps {
		if got := of(s.Feed(ctx, st.f, true)).must(t); got != st.want {
			t.Errorf("step %d: distinct count %d, want %d", i, got, st.want)
		}
	}
	if got := of(s.Count(ctx, "reports", "room/u1", time.Minute, false, at(61*time.Second))).must(t); got != 4 {
		t.Errorf("event count %d, want 4 (distinct only counts values)", got)
	}
}

// testWindowsCommitOrder: feeders race, so a feed with a later time can
// be written before one with an earlier time. The counts follow the
// order the feeds are written in, each seen once, so a threshold is
// crossed by exactly one of them: here b decided after c but wrote first.
func testWindowsCommitOrder(t *testing.T, s state.Store) {
	ctx := t.Context()
	var seen []int
	for _, f := range []state.Feed{
		feed("reporters", "room/u1", "e-a", "viewer-a", 0),
		feed("reporters", "room/u1", "e-c", "viewer-c", 10*time.Millisecond),
		feed("reporters", "room/u1", "e-b", "viewer-b", 5*time.Millisecond),
	} {
		seen = append(seen, of(s.Feed(ctx, f, true)).must(t))
	}
	if !slices.Equal(seen, []int{1, 2, 3}) {
		t.Errorf("distinct counts in the order written = %v, want [1 2 3]: each count seen by one feed", seen)
	}
}

// testWindowsConcurrent: replicas feeding one key at once never lose an
// event, and exactly one of them sees each count.
func testWindowsConcurrent(t *testing.T, stores ...state.Store) {
	const n = 12
	var wg sync.WaitGroup
	counts := make([]int, n)
	for i := range n {
		s := stores[i%len(stores)]
		wg.Go(func() {
			c, err := s.Feed(context.Background(), feed("hot", "k", fmt.Sprint("e", i), "", time.Second), false)
			if err != nil {
				t.Errorf("Feed: %v", err)
			}
			counts[i] = c
		})
	}
	wg.Wait()
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts seen by %d concurrent feeders = %v, want each of 1..%d once", n, counts, n)
		}
	}
}

func testLabels(t *testing.T, s state.Store) {
	ctx := t.Context()
	if got := of(s.Members(ctx, "watched_users", at(0))).must(t); len(got) != 0 {
		t.Fatalf("a new list has members %v", got)
	}
	noErr(t, s.AddMember(ctx, "watched_users", "u1", at(0), 0))
	noErr(t, s.AddMember(ctx, "watched_users", "u2", at(0), time.Hour))
	noErr(t, s.AddMember(ctx, "other_list", "u3", at(0), 0))
	for _, c := range []struct {
		at   time.Duration
		want []string
	}{{0, []string{"u1", "u2"}}, {59 * time.Minute, []string{"u1", "u2"}}, {time.Hour, []string{"u1"}}} {
		got := keys(of(s.Members(ctx, "watched_users", at(c.at))).must(t))
		if !slices.Equal(got, c.want) {
			t.Errorf("members at +%v = %v, want %v", c.at, got, c.want)
		}
	}
	noErr(t, s.AddMember(ctx, "watched_users", "u2", at(2*time.Hour), time.Hour)) // re-labelled: a new expiry
	if got := keys(of(s.Members(ctx, "watched_users", at(2*time.Hour+time.Minute))).must(t)); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Errorf("members after re-labelling = %v, want [u1 u2]", got)
	}
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func lock(flag string, end time.Duration, rule string) state.Lock {
	l := state.Lock{SeatFlag: state.SeatFlag{RoomID: "room", Index: 2, Flag: flag}, Rule: rule, EventID: "ev-" + rule, At: at(0)}
	if end > 0 {
		l.End = at(end)
	}
	return l
}

func testLocks(t *testing.T, s state.Store) {
	ctx := t.Context()
	audio := state.SeatFlag{RoomID: "room", Index: 2, Flag: "audio"}
	if _, held := held(t, s, audio); held {
		t.Fatal("a new store holds a lock")
	}
	steps := []struct {
		name    string
		lock    state.Lock
		wantEnd time.Duration // of the lock recorded afterwards; 0: no end
		wantBy  string
	}{
		{"a timed lock", lock("audio", 10*time.Minute, "a"), 10 * time.Minute, "a"},
		{"a later end replaces it", lock("audio", 20*time.Minute, "b"), 20 * time.Minute, "b"},
		{"an earlier end does not", lock("audio", 15*time.Minute, "c"), 20 * time.Minute, "b"},
		{"a lock without end outlasts every end", lock("audio", 0, "d"), 0, "d"},
		{"and a timed lock does not end it", lock("audio", 30*time.Minute, "e"), 0, "d"},
	}
	for _, st := range steps {
		got := of(s.Locked(ctx, st.lock)).must(t)
		held, ok := held(t, s, audio)
		if !ok || held.Rule != st.wantBy || got.Rule != st.wantBy || !sameEnd(held.End, st.wantEnd) {
			t.Errorf("%s: held %+v (ok %v), Locked returned %+v; want rule %s ending at +%v", st.name, held, ok, got,
				st.wantBy, st.wantEnd)
		}
	}
	if undos := of(s.PendingUndos(ctx, 10)).must(t); len(undos) != 0 {
		t.Errorf("pending undos %+v, want none: the lock has no end", undos)
	}
	video := lock("video", 5*time.Minute, "v")
	of(s.Locked(ctx, video)).must(t)
	taken := lock("taken", 3*time.Minute, "t")
	of(s.Locked(ctx, taken)).must(t)
	undos := of(s.PendingUndos(ctx, 10)).must(t)
	if len(undos) != 2 || undos[0].Flag != "taken" || undos[1].Flag != "video" {
		t.Errorf("pending undos %+v, want taken then video", undos)
	}
	noErr(t, s.Unlocked(ctx, video.SeatFlag, at(4*time.Minute))) // not its end: a newer lock
	if _, ok := held(t, s, video.SeatFlag); !ok {
		t.Error("Unlocked with another end cleared the lock")
	}
	noErr(t, s.Unlocked(ctx, video.SeatFlag, at(5*time.Minute)))
	if _, ok := held(t, s, video.SeatFlag); ok {
		t.Error("Unlocked with its end left the lock held")
	}
}

func sameEnd(end time.Time, want time.Duration) bool {
	if want == 0 {
		return end.IsZero()
	}
	return end.Equal(at(want))
}

// held is s.Held, failing the test on an error.
func held(t *testing.T, s state.Store, f state.SeatFlag) (state.Lock, bool) {
	t.Helper()
	l, ok, err := s.Held(t.Context(), f)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	return l, ok
}

func testOverrides(t *testing.T, s state.Store) {
	ctx := t.Context()
	audio := state.SeatFlag{RoomID: "room", Index: 2, Flag: "audio"}
	if got := of(s.Override(ctx, audio, at(0), 30*time.Minute)).must(t); got {
		t.Error("clearing a flag roomwarden does not hold counted as an override")
	}
	if until := of(s.OverriddenUntil(ctx, audio, at(0))).must(t); !until.IsZero() {
		t.Errorf("overridden until %v without an override", until)
	}
	of(s.Locked(ctx, lock("audio", 10*time.Minute, "a"))).must(t)
	if got := of(s.Override(ctx, audio, at(time.Minute), 30*time.Minute)).must(t); !got {
		t.Fatal("clearing a flag roomwarden holds is not an override")
	}
	if _, held := held(t, s, audio); held {
		t.Error("the lock is still held after the override")
	}
	if undos := of(s.PendingUndos(ctx, 10)).must(t); len(undos) != 0 {
		t.Errorf("pending undos after the override: %+v, want none", undos)
	}
	if until := of(s.OverriddenUntil(ctx, audio, at(30*time.Minute))).must(t); !until.Equal(at(31 * time.Minute)) {
		t.Errorf("overridden until %v, want %v", until, at(31*time.Minute))
	}
	if until := of(s.OverriddenUntil(ctx, audio, at(31*time.Minute))).must(t); !until.IsZero() {
		t.Errorf("override still in force at its end: %v", until)
	}
	if ovs := of(s.Overrides(ctx, at(2*time.Minute), 10)).must(t); len(ovs) != 1 || ovs[0].SeatFlag != audio {
		t.Errorf("overrides in force %+v, want the audio one", ovs)
	}
}

func testBudgets(t *testing.T, s state.Store) {
	ctx := t.Context()
	for i := range 3 {
		if ok := of(s.Spend(ctx, "r@v1", 3, time.Minute, at(time.Duration(i)*time.Second))).must(t); !ok {
			t.Fatalf("action %d within a budget of 3 refused", i+1)
		}
	}
	if ok := of(s.Spend(ctx, "r@v1", 3, time.Minute, at(10*time.Second))).must(t); ok {
		t.Fatal("a 4th action within the minute was allowed")
	}
	if ok := of(s.Spend(ctx, "r@v1", 3, time.Minute, at(5*time.Minute))).must(t); ok {
		t.Error("a tripped rule acted again once the window had passed; it must stay tripped until reset")
	}
	if ok := of(s.Spend(ctx, "r@v2", 3, time.Minute, at(10*time.Second))).must(t); !ok {
		t.Error("a new version of the rule is tripped too")
	}
	if got := of(s.Tripped(ctx)).must(t); !slices.Equal(got, []string{"r@v1"}) {
		t.Errorf("tripped %v, want [r@v1]", got)
	}
	noErr(t, s.Reset(ctx, "r@v1"))
	if got := of(s.Tripped(ctx)).must(t); len(got) != 0 {
		t.Errorf("tripped after reset: %v", got)
	}
	for i := range 3 {
		if ok := of(s.Spend(ctx, "r@v1", 3, time.Minute, at(5*time.Minute+time.Duration(i)))).must(t); !ok {
			t.Errorf("action %d after the reset refused: the spending was not forgotten", i+1)
		}
	}
}

// testBudgetsConcurrent: replicas spending one budget at once never
// allow more than max.
func testBudgetsConcurrent(t *testing.T, stores ...state.Store) {
	var wg sync.WaitGroup
	var allowed atomic.Int32
	for i := range 12 {
		s := stores[i%len(stores)]
		wg.Go(func() {
			ok, err := s.Spend(context.Background(), "hot@v", 5, time.Minute, at(0))
			if err != nil {
				t.Errorf("Spend: %v", err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 5 {
		t.Errorf("%d of 12 concurrent actions allowed by a budget of 5, want exactly 5", n)
	}
}
