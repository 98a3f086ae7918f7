package jsstate_test

import (
	"slices"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// TestRestart: everything a daemon recorded survives a server restart
// on the same store directory, and a new Store (a restarted daemon)
// reads it.
func TestRestart(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	ctx := t.Context()
	now := time.Now()
	locked := timedLock("room-r", "lock", now, now.Add(time.Hour))
	overridden := state.SeatFlag{RoomID: "room-r", Index: 2, Flag: "video"}
	steps := []struct {
		name string
		do   func() error
	}{
		{"acquire", func() error { return wantBool(s.Acquire(ctx, "rule/k", "o1", now, time.Hour))(true) }},
		{"feed e1", func() error { return wantInt(s.Feed(ctx, windowFeed("e1", now), false))(1) }},
		{"feed e2", func() error { return wantInt(s.Feed(ctx, windowFeed("e2", now), false))(2) }},
		{"label", func() error { return s.AddMember(ctx, "watched_users", "u1", now, 0) }},
		{"lock", func() error { _, err := s.Locked(ctx, locked); return err }},
		{"lock to override", func() error {
			_, err := s.Locked(ctx, state.Lock{SeatFlag: overridden, Rule: "lock", At: now, End: now.Add(time.Hour)})
			return err
		}},
		{"override", func() error { return wantBool(s.Override(ctx, overridden, now, time.Hour))(true) }},
		{"spend", func() error { return wantBool(s.Spend(ctx, "r@v1", 1, time.Hour, now))(true) }},
		{"trip", func() error { return wantBool(s.Spend(ctx, "r@v1", 1, time.Hour, now))(false) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("before the restart: %s: %v", st.name, err)
		}
	}

	restarted := open(t, natstest.Restart(t, srv), jsstate.Config{})
	later := now.Add(time.Minute)
	checks := []struct {
		name string
		do   func() error
	}{
		{"still cooling", func() error { return wantBool(restarted.Acquire(ctx, "rule/k", "o2", later, time.Hour))(false) }},
		{"cooling until", func() error {
			until, err := restarted.CoolingUntil(ctx, "rule/k", later)
			return want(until.Equal(now.Add(time.Hour)), until, err)
		}},
		{"window count", func() error { return wantInt(restarted.Count(ctx, "w", "k", time.Hour, false, later))(2) }},
		{"a fed event is not counted again", func() error {
			return wantInt(restarted.Feed(ctx, windowFeed("e1", later), false))(2)
		}},
		{"label", func() error {
			m, err := restarted.Members(ctx, "watched_users", later)
			_, ok := m[("u1")]
			return want(ok, m, err)
		}},
		{"lock held", func() error {
			l, ok, err := restarted.Held(ctx, locked.SeatFlag)
			return want(ok && l.End.Equal(locked.End), l, err)
		}},
		{"pending undo", func() error {
			ls, err := restarted.PendingUndos(ctx, 10)
			return want(len(ls) == 1 && ls[0].SeatFlag == locked.SeatFlag, ls, err)
		}},
		{"override", func() error {
			until, err := restarted.OverriddenUntil(ctx, overridden, later)
			return want(until.Equal(now.Add(time.Hour)), until, err)
		}},
		{"tripped", func() error {
			rules, err := restarted.Tripped(ctx)
			return want(slices.Equal(rules, []string{"r@v1"}), rules, err)
		}},
		{"still tripped", func() error { return wantBool(restarted.Spend(ctx, "r@v1", 1, time.Hour, later))(false) }},
	}
	for _, c := range checks {
		if err := c.do(); err != nil {
			t.Errorf("after the restart: %s: %v", c.name, err)
		}
	}
}

func windowFeed(event string, at time.Time) state.Feed {
	return state.Feed{Window: "w", Key: "k", EventID: event, Span: time.Hour, At: at}
}
