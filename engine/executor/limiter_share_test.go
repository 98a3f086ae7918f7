package executor

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestWindowGuardLimitChanges drives the guard on explicit times: a
// lowered limit counts the starts already in the window, a raised one
// admits at once, 0 admits nothing, and the limit never exceeds the
// guard's size.
func TestWindowGuardLimitChanges(t *testing.T) {
	const ms = time.Millisecond
	g := newWindowGuard(4, time.Second)
	for i := range 4 {
		if w := g.tryAdmitAt(time.Duration(i) * ms); w != 0 {
			t.Fatalf("start %d at %dms: wait %v, want admitted", i, i, w)
		}
	}
	steps := []struct {
		name  string
		limit int // -1: unchanged
		at    time.Duration
		want  time.Duration // 0: admitted
	}{
		{name: "full at 4", limit: -1, at: 10 * ms, want: time.Second - 10*ms},
		{name: "lowered to 2: waits for the 2nd latest start to leave", limit: 2, at: 20 * ms, want: time.Second + 2*ms - 20*ms},
		{name: "lowered to 2: admitted once it left", limit: -1, at: time.Second + 2*ms},
		{name: "lowered to 2: the next waits for the start at 3ms", limit: -1, at: time.Second + 2*ms, want: ms},
		{name: "0 admits nothing", limit: 0, at: 5 * time.Second, want: guardBlocked},
		{name: "raised to 4 admits at once", limit: 4, at: time.Second + 2*ms},
		{name: "raised beyond the size", limit: 9, at: time.Second + 2*ms},
		{name: "raised beyond the size is the size: 4 per window", limit: -1, at: time.Second + 2*ms, want: ms},
	}
	for _, s := range steps {
		if s.limit >= 0 {
			g.setLimit(s.limit)
		}
		if got := g.tryAdmitAt(s.at); got != s.want {
			t.Errorf("%s: wait %v, want %v", s.name, got, s.want)
		}
	}
	if _, n := g.state(); n != 4 {
		t.Errorf("limit after setLimit(9) on a guard of 4 = %d, want 4", n)
	}
}

// TestLimiterShareRate: the bucket follows the share, keeps the
// throttled fraction of its ceiling, reads 0 while the share is 0 and is
// clamped to RatePerSecond.
func TestLimiterShareRate(t *testing.T) {
	l := newCallLimiter(200, limiterWindow, aWindowAgo())
	t0 := time.Unix(1700000000, 0)
	r100, _ := bucketParams(100, limiterWindow)
	r200, _ := bucketParams(200, limiterWindow)
	steps := []struct {
		name     string
		share    int // -1: no change
		throttle bool
		want     rate.Limit
		wantN    int
	}{
		{name: "full", share: -1, want: r200, wantN: 200},
		{name: "half", share: 100, want: r100, wantN: 100},
		{name: "throttled at half", share: -1, throttle: true, want: r100 / 2, wantN: 100},
		{name: "raised while throttled keeps the fraction", share: 200, want: r200 / 2, wantN: 200},
		{name: "0", share: 0, want: 0, wantN: 0},
		{name: "beyond the budget", share: 1000, want: r200 / 2, wantN: 200},
	}
	for _, s := range steps {
		if s.share >= 0 {
			l.setShareAt(s.share, t0)
		}
		if s.throttle {
			l.throttleAt(t0)
		}
		if got := l.rateAt(t0); !near(got, s.want) {
			t.Errorf("%s: rate %v, want %v", s.name, got, s.want)
		}
		if got := l.share(); got != s.wantN {
			t.Errorf("%s: share %d, want %d", s.name, got, s.wantN)
		}
	}
}

// TestLimiterShareZeroHoldsUntilRaised: a call waiting while the share
// is 0 starts once the share is raised, not before; a cancelled context
// still ends the wait.
func TestLimiterShareZeroHoldsUntilRaised(t *testing.T) {
	l := newCallLimiter(200, limiterWindow, aWindowAgo())
	l.setShareAt(0, time.Now())
	done := make(chan error, 1)
	go func() {
		_, err := l.wait(context.Background())
		done <- err
	}()
	// A wait that returned while the share is 0 is a bug whenever it is
	// seen; this gives it a moment to show.
	select {
	case err := <-done:
		t.Fatalf("wait returned (%v) while the share was 0", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.setShareAt(1, time.Now())
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wait after the share was raised: %v", err)
		}
	case <-time.After(10 * time.Second): // deadlock guard
		t.Fatal("wait did not return after the share was raised")
	}

	l.setShareAt(0, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := l.wait(ctx)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("wait with the share at 0 and a cancelled context = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled wait did not return")
	}
}

// TestLimiterShareOfOne: a share whose bucket rate is 0 is paced by the
// guard alone: one call per window, not one call ever.
func TestLimiterShareOfOne(t *testing.T) {
	l := newCallLimiter(200, limiterWindow, aWindowAgo())
	l.setShareAt(1, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 2 {
		if _, err := l.wait(ctx); err != nil {
			t.Fatalf("call %d at a share of 1: %v", i, err)
		}
	}
}

// TestExecutorSetShare: an executor whose share is 0 calls nothing; the
// calls after a share is set keep every window at or under it (counted
// in checkedWindow, as the other rate tests); a raised share lets the
// rest through.
func TestExecutorSetShare(t *testing.T) {
	const low, actions = 5, 30
	sink := &execFakeSink{}
	e, _ := newExecFixture(t, Config{RatePerSecond: 200, Workers: 8}, sink)
	e.SetShare(0)
	runExecFixture(t, e)
	c := newExecCollector()
	for i := range actions {
		execSubmit(t, e, c, execAction(execSeat("room-s", i), i))
	}
	// No call can start while the share is 0; wait past the restart hold
	// so that the share, not the hold, is what holds them back.
	time.Sleep(limiterWindow + 100*time.Millisecond)
	if n := len(sink.times()); n != 0 {
		t.Fatalf("%d calls with a share of 0, want none", n)
	}
	lowered := time.Now()
	e.SetShare(low)
	c.wait(t, 12)
	raised := time.Now()
	e.SetShare(200)
	c.wait(t, actions-12)

	var atLow []time.Time
	for _, at := range sink.times() {
		if at.Before(raised) {
			atLow = append(atLow, at)
		}
	}
	if got := maxInWindow(atLow, checkedWindow); got > low {
		t.Errorf("max calls within %s at a share of %d = %d, want <= %d", checkedWindow, low, got, low)
	}
	if first := sink.times()[0]; first.Before(lowered) {
		t.Errorf("first call at %v, before the share was raised from 0 at %v", first, lowered)
	}
	if got := len(sink.times()); got != actions {
		t.Errorf("calls = %d, want %d", got, actions)
	}
	if n := sink.callsFor(execSeat("room-s", 0)); n != 1 {
		t.Errorf("calls for the first action = %d, want 1", n)
	}
}
