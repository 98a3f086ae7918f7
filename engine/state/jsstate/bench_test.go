package jsstate_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// BenchmarkFeed feeds windows through one Store whose cache is warm (it
// alone writes the keys), on an in-process server: the cost of a feed
// on a single replica, one round trip each.
//
//   - distinct-keys: 1,000 keys in turn, about one live entry each;
//   - hot-key-100: one key holding about 100 live entries;
//   - hot-key-1000: one key at MaxWindowEntries (24 KB written per feed).
func BenchmarkFeed(b *testing.B) {
	cases := []struct {
		name string
		keys int
		span time.Duration // the clock advances 1ms per feed
	}{
		{"distinct-keys", 1000, time.Second},
		{"hot-key-100", 1, 100 * time.Millisecond},
		{"hot-key-1000", 1, time.Second},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s := open(b, natstest.RunServer(b), jsstate.Config{})
			base := time.Now()
			feed := func(i int) state.Feed {
				return state.Feed{Window: "reports", Key: fmt.Sprint("room/user-", i%bc.keys), EventID: fmt.Sprint("evt-", i),
					Span: bc.span, At: base.Add(time.Duration(i) * time.Millisecond)}
			}
			warm := max(bc.keys, int(bc.span/time.Millisecond))
			for i := range warm {
				if _, err := s.Feed(b.Context(), feed(i), false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := warm
			for b.Loop() {
				if _, err := s.Feed(b.Context(), feed(i), false); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// TestWindowKeyBytes reports what a window key with 10 and 1,000
// entries occupies: its value, and the stream's bytes for it (subject,
// headers and value), and checks the value's size.
func TestWindowKeyBytes(t *testing.T) {
	for _, n := range []int{10, jsstate.MaxWindowEntries} {
		srv := natstest.RunServer(t)
		s := open(t, srv, jsstate.Config{})
		now := time.Now()
		for i := range n {
			f := state.Feed{Window: "reports", Key: "room-1/user-1", EventID: fmt.Sprint("evt-", i), Span: time.Hour,
				At: now.Add(time.Duration(i) * time.Millisecond)}
			if _, err := s.Feed(t.Context(), f, false); err != nil {
				t.Fatal(err)
			}
		}
		js := connect(t, srv)
		kv, err := js.KeyValue(t.Context(), jsstate.DefaultBucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.Keys(t.Context())
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v, %v; want one", keys, err)
		}
		e, err := kv.Get(t.Context(), keys[0])
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(t.Context(), "KV_"+jsstate.DefaultBucket)
		if err != nil {
			t.Fatal(err)
		}
		stored := st.CachedInfo().State.Bytes
		t.Logf("a window key with %d entries: value %d bytes, %d bytes in the stream", n, len(e.Value()), stored)
		if want := 1 + 1 + len("reports") + 1 + len("room-1/user-1") + 24*n; len(e.Value()) != want {
			t.Errorf("value of %d bytes, want %d", len(e.Value()), want)
		}
	}
}

// BenchmarkMembers reads a label list of 1,000 members (100 with an
// expiry) from the watcher's memory, as rules do on every event.
func BenchmarkMembers(b *testing.B) {
	s := open(b, natstest.RunServer(b), jsstate.Config{})
	now := time.Now()
	for i := range 1000 {
		ttl := time.Duration(0)
		if i%10 == 0 {
			ttl = time.Hour + time.Duration(i)*time.Second
		}
		if err := s.AddMember(b.Context(), "watched_users", fmt.Sprint("u", i), now, ttl); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		m, err := s.Members(b.Context(), "watched_users", now)
		if err != nil || len(m) != 1000 {
			b.Fatalf("members: %d, %v", len(m), err)
		}
	}
}
