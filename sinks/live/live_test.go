package live_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/sinks/live"
)

func outcome(i int) engine.Outcome {
	return engine.Outcome{Rule: "r", EventID: fmt.Sprintf("ev-%d", i), Action: engine.ActionLockSeat, Outcome: engine.Succeeded}
}

func ids(os []engine.Outcome) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.EventID
	}
	return out
}

func TestRecentKeepsTheLastN(t *testing.T) {
	tests := []struct {
		name     string
		recorded int
		want     []string
	}{
		{"empty", 0, []string{}},
		{"fewer than size", 2, []string{"ev-0", "ev-1"}},
		{"exactly size", 3, []string{"ev-0", "ev-1", "ev-2"}},
		{"wrapped", 7, []string{"ev-4", "ev-5", "ev-6"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := live.New(live.Config{Size: 3})
			for i := range tc.recorded {
				if err := r.Record(outcome(i)); err != nil {
					t.Fatalf("Record: %v", err)
				}
			}
			if got := ids(r.Recent()); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Recent = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSubscribeBacklogThenNew(t *testing.T) {
	r := live.New(live.Config{Size: 2})
	for i := range 3 {
		r.Record(outcome(i))
	}
	backlog, sub := r.Subscribe()
	defer sub.Close()
	if got, want := ids(backlog), "[ev-1 ev-2]"; fmt.Sprint(got) != want {
		t.Errorf("backlog = %v, want %s", got, want)
	}
	r.Record(outcome(3))
	select {
	case o := <-sub.C:
		if o.EventID != "ev-3" {
			t.Errorf("got %s, want ev-3", o.EventID)
		}
	case <-time.After(time.Second):
		t.Fatal("no outcome after subscribing")
	}
}

// TestSlowSubscriberIsDropped checks that a subscriber that stops
// reading never blocks Record, is dropped and told so, and that the
// others go on receiving.
func TestSlowSubscriberIsDropped(t *testing.T) {
	r := live.New(live.Config{Size: 5, Buffer: 2})
	_, slow := r.Subscribe()
	_, fast := r.Subscribe()
	defer fast.Close()
	var got []string
	var wg sync.WaitGroup
	wg.Go(func() {
		for o := range fast.C {
			got = append(got, o.EventID)
			if len(got) == 10 {
				return
			}
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			r.Record(outcome(i))
			time.Sleep(time.Millisecond) // let the fast reader keep up
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked on a subscriber that does not read")
	}
	wg.Wait()
	if len(got) != 10 {
		t.Errorf("fast subscriber got %d outcomes, want 10", len(got))
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != 2 || !slow.Dropped() {
		t.Errorf("slow subscriber: %d buffered outcomes then closed, dropped %v; want 2 and true", n, slow.Dropped())
	}
	if fast.Dropped() {
		t.Error("fast subscriber reported dropped")
	}
	if got := r.Subscribers(); got != 1 {
		t.Errorf("Subscribers = %d, want 1 (the slow one removed)", got)
	}
}

func TestCloseTwiceAndAfterDrop(t *testing.T) {
	r := live.New(live.Config{Buffer: 1})
	_, s := r.Subscribe()
	r.Record(outcome(0))
	r.Record(outcome(1)) // drops s
	s.Close()
	s.Close()
	if _, ok := <-s.C; !ok {
		t.Fatal("the buffered outcome was lost on drop")
	}
	if _, ok := <-s.C; ok {
		t.Fatal("C still open after Close")
	}
	if got := r.Subscribers(); got != 0 {
		t.Errorf("Subscribers = %d, want 0", got)
	}
}

func TestConcurrentRecordAndSubscribe(t *testing.T) {
	r := live.New(live.Config{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				r.Record(outcome(w*1000 + i))
			}
		})
		wg.Go(func() {
			for range 50 {
				_, s := r.Subscribe()
				s.Close()
			}
		})
	}
	wg.Wait()
	if got := len(r.Recent()); got != live.DefaultSize {
		t.Errorf("Recent holds %d, want %d", got, live.DefaultSize)
	}
}
