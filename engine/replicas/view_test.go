package replicas

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

const testWindow = time.Second + 20*time.Millisecond

var t0 = time.Unix(1_700_000_000, 0)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// echoed makes v send beat seq at sent and see it back at seen.
func echoed(v *view, seq uint64, sent, seen time.Time) {
	v.beat(seq, sent)
	v.put(v.self, v.rate, seq, seen)
}

// beating makes v beat every second from from to to (whole seconds
// after t0), each beat seen back at once; the sequence numbers are the
// seconds plus 100.
func beating(v *view, from, to int) {
	for s := from; s <= to; s++ {
		d := time.Duration(s) * time.Second
		echoed(v, uint64(100+s), at(d), at(d))
	}
}

type wantShare struct {
	at    time.Duration
	share int
	n     int
	state string
}

func checkShares(t *testing.T, v *view, steps ...wantShare) {
	t.Helper()
	for _, s := range steps {
		share, n, state := v.share(at(s.at))
		if share != s.share || n != s.n || state != s.state {
			t.Errorf("at %v: share %d of %d replicas (%s), want %d of %d (%s)", s.at, share, n, state, s.share, s.n, s.state)
		}
	}
}

func TestViewAloneStartsAtOnce(t *testing.T) {
	v := newView("a", 200, testWindow)
	checkShares(t, v, wantShare{0, 0, 1, "cut off"}) // no echo yet
	echoed(v, 1, at(0), at(5*time.Millisecond))
	checkShares(t, v, wantShare{5 * time.Millisecond, 200, 1, "active"})
}

// TestViewJoinerHolds: a replica that counts others when it becomes
// visible calls nothing for staleAfter + window; the one already running
// lowers its share as soon as it sees the joiner.
func TestViewJoinerHolds(t *testing.T) {
	hold := staleAfter + testWindow
	a := newView("a", 200, testWindow)
	echoed(a, 1, at(0), at(0))
	b := newView("b", 200, testWindow)
	b.put("a", 200, 1, at(time.Second))
	echoed(b, 1, at(time.Second), at(time.Second))
	checkShares(t, b, wantShare{time.Second, 0, 2, "joining"})
	a.put("b", 200, 1, at(time.Second+time.Millisecond))
	echoed(a, 2, at(time.Second), at(time.Second+time.Millisecond))
	checkShares(t, a, wantShare{time.Second + time.Millisecond, 100, 2, "active"})
	beating(b, 2, 4)
	if got := b.next(at(4 * time.Second)); !got.Equal(at(time.Second + hold)) {
		t.Errorf("next deadline while joining = %v, want the hold's end %v", got.Sub(t0), hold+time.Second)
	}
	checkShares(t, b,
		wantShare{time.Second + hold - time.Nanosecond, 0, 2, "joining"},
		wantShare{time.Second + hold, 100, 2, "active"})
}

// TestViewStaleIsSilent: without a beat seen back within staleAfter the
// share is 0; the next echo makes the replica a joiner again if others
// are counted, and not if it is alone.
func TestViewStaleIsSilent(t *testing.T) {
	v := newView("a", 200, testWindow)
	echoed(v, 1, at(0), at(0))
	checkShares(t, v,
		wantShare{staleAfter, 200, 1, "active"},
		wantShare{staleAfter + time.Nanosecond, 0, 1, "cut off"})
	echoed(v, 5, at(4*time.Second), at(4*time.Second))
	checkShares(t, v, wantShare{4 * time.Second, 200, 1, "active"})

	v.put("b", 200, 1, at(5*time.Second))
	checkShares(t, v, wantShare{5 * time.Second, 100, 2, "active"})
	// A beat that comes back late is as good as its send time.
	v.beat(6, at(5*time.Second))
	v.put("a", 200, 6, at(8*time.Second))
	checkShares(t, v, wantShare{8 * time.Second, 0, 2, "cut off"})
	echoed(v, 9, at(9*time.Second), at(9*time.Second))
	checkShares(t, v,
		wantShare{9 * time.Second, 0, 2, "joining"},
		wantShare{9*time.Second + staleAfter + testWindow, 0, 2, "cut off"}) // no beats meanwhile
}

// TestViewLeaverCountedOneWindow: a key that goes is counted one more
// window before the others raise their shares.
func TestViewLeaverCountedOneWindow(t *testing.T) {
	v := newView("a", 200, testWindow)
	v.put("b", 200, 1, at(0))
	v.put("c", 200, 1, at(0))
	beating(v, 0, 5)
	v.gone("c", at(5*time.Second))
	if got := v.next(at(5 * time.Second)); !got.Equal(at(5*time.Second + testWindow)) {
		t.Errorf("next deadline = %v, want the leaver's end", got.Sub(t0))
	}
	checkShares(t, v,
		wantShare{5 * time.Second, 67, 3, "active"},
		wantShare{5*time.Second + testWindow - time.Nanosecond, 67, 3, "active"},
		wantShare{5*time.Second + testWindow, 100, 2, "active"})
}

// TestViewSyncDecidesAtTheEnd: in a watch's initial values our key may
// come before the others' (they renewed theirs later); the hold is
// decided once they are all in, and keys missing from them are gone.
func TestViewSyncDecidesAtTheEnd(t *testing.T) {
	v := newView("a", 200, testWindow)
	v.put("old", 200, 1, at(0))
	v.startSync()
	v.beat(1, at(time.Second))
	v.put("a", 200, 1, at(time.Second))
	v.put("b", 200, 7, at(time.Second))
	v.endSync(at(time.Second))
	checkShares(t, v,
		wantShare{time.Second, 0, 3, "joining"}, // b, and old for one window
		wantShare{time.Second + testWindow, 0, 2, "joining"})
}

// TestViewOwnKeyGone: when our key vanishes the others stop counting
// us: silent until our next beat comes back, then a joiner.
func TestViewOwnKeyGone(t *testing.T) {
	v := newView("a", 200, testWindow)
	v.put("b", 200, 1, at(0))
	beating(v, 0, 4)
	checkShares(t, v, wantShare{4 * time.Second, 100, 2, "active"})
	v.gone("a", at(4*time.Second))
	checkShares(t, v, wantShare{4 * time.Second, 0, 2, "cut off"})
	beating(v, 5, 5)
	checkShares(t, v, wantShare{5 * time.Second, 0, 2, "joining"})
}

// TestViewSharesAddUp: with the same view everywhere, the shares add up
// to the smallest rate announced, for any number of replicas.
func TestViewSharesAddUp(t *testing.T) {
	for _, tc := range []struct{ rate, n, otherRate int }{
		{200, 1, 200}, {200, 2, 200}, {200, 3, 200}, {1, 2, 1}, {5, 3, 5}, {200, 3, 50}, {7, 7, 7}, {3, 8, 3},
	} {
		t.Run(fmt.Sprintf("rate=%d/n=%d/other=%d", tc.rate, tc.n, tc.otherRate), func(t *testing.T) {
			ids := make([]string, tc.n)
			for i := range ids {
				ids[i] = fmt.Sprintf("r%02d", i)
			}
			rateOf := func(j int) int { // r00 announces otherRate
				if j == 0 {
					return tc.otherRate
				}
				return tc.rate
			}
			sum := 0
			for i, self := range ids {
				v := settled(self, rateOf(i), ids, rateOf)
				share, _, _ := v.share(at(10 * time.Second))
				sum += share
			}
			if want := min(tc.rate, tc.otherRate); sum != want {
				t.Errorf("shares add up to %d, want %d", sum, want)
			}
		})
	}
}

// TestViewMoreReplicasNeverRaiseAShare: counting one more replica never
// raises a share, which keeps the sum within the rate while views
// disagree.
func TestViewMoreReplicasNeverRaiseAShare(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		rate, n := 1+rng.IntN(300), 1+rng.IntN(9)
		ids := make([]string, n+1)
		for i := range ids {
			ids[i] = fmt.Sprintf("r%03d", rng.IntN(1000))
		}
		self := ids[0]
		same := func(int) int { return rate }
		before, _, _ := settled(self, rate, ids[:n], same).share(at(10 * time.Second))
		after, _, _ := settled(self, rate, ids, same).share(at(10 * time.Second))
		if after > before {
			t.Fatalf("rate %d, replicas %v: share %d with %s counted, %d without", rate, ids, after, ids[n], before)
		}
	}
}

// settled is self's view, long after joining, of the replicas ids
// (self among them or not), replica j announcing rateOf(j).
func settled(self string, rate int, ids []string, rateOf func(j int) int) *view {
	v := newView(self, rate, testWindow)
	for j, id := range ids {
		if id != self {
			v.put(id, rateOf(j), 1, at(0))
		}
	}
	beating(v, 0, 10)
	return v
}
