package jsstate_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/benchtest"
	"github.com/roomwarden/roomwarden/internal/natstest"
	"github.com/roomwarden/roomwarden/rules"
)

// The benchmarks of this file measure what windows cost per fed event
// (docs/BENCHMARKS.md, "State in JetStream: windows and cooldowns"):
//
//   - BenchmarkWindowFeed: jsstate's Feed on an in-process server, and
//     the in-memory store's for comparison, counting and distinct, on a
//     key the store has not seen (read, then write) and on keys it wrote
//     last (one write). kv-ops/op is the messages the store's connection
//     sent per feed: each read and each write is one request.
//   - BenchmarkWindowCount: Count, the read of a rule reading a window
//     on an event that did not feed it.
//   - BenchmarkPipelineWindows: the whole pipeline per event on the
//     jsstate store, with the plain rules and with the windows workload
//     (benchtest.WindowWorkload: 10 of 100 rules read windows that one
//     event in 10 feeds).

// windowStore is a store under test and, for jsstate, the connection
// whose sent messages count its KV operations (nil for memory).
type windowStore struct {
	state.Store
	nc *nats.Conn
}

func (s windowStore) sent() uint64 {
	if s.nc == nil {
		return 0
	}
	return s.nc.Stats().OutMsgs
}

// windowStores are the stores the benchmarks compare, each opened for
// one run of one benchmark.
var windowStores = []struct {
	name string
	open func(b *testing.B) windowStore
}{
	{"store=jetstream", func(b *testing.B) windowStore {
		srv := natstest.RunServer(b)
		nc := natstest.Connect(b, srv)
		return windowStore{Store: open(b, srv, jsstate.Config{JetStream: natstest.JetStream(b, nc)}), nc: nc}
	}},
	{"store=memory", func(*testing.B) windowStore { return windowStore{Store: state.NewMemory(0)} }},
}

// poolKeys is how many keys the known-key cases feed in turn.
const poolKeys = 10_000

func BenchmarkWindowFeed(b *testing.B) {
	for _, st := range windowStores {
		for _, distinct := range []bool{false, true} {
			for _, known := range []bool{false, true} {
				name := fmt.Sprintf("%s/distinct=%t/known-key=%t", st.name, distinct, known)
				b.Run(name, func(b *testing.B) { benchFeed(b, st.open(b), distinct, known) })
			}
		}
	}
}

// benchFeed feeds one-minute windows: each event at a key of its own
// (known false), or in turn at poolKeys keys fed once before (known
// true: a key holds about b.N/poolKeys entries at the end).
func benchFeed(b *testing.B, s windowStore, distinct, known bool) {
	ctx := b.Context()
	base := time.Now()
	feed := func(i int, key string) state.Feed {
		f := state.Feed{Window: "reports_spam", Key: key, EventID: "evt-" + strconv.Itoa(i),
			Span: time.Minute, At: base.Add(time.Duration(i) * time.Microsecond)}
		if distinct {
			f.Value = "rp-" + strconv.Itoa(i)
		}
		return f
	}
	keyOf := func(i int) string { return "ru-" + strconv.Itoa(i) }
	next := 0
	if known {
		for ; next < poolKeys; next++ {
			if _, err := s.Feed(ctx, feed(next, keyOf(next)), distinct); err != nil {
				b.Fatal(err)
			}
		}
		keyOf = func(i int) string { return "ru-" + strconv.Itoa(i%poolKeys) }
	}
	sent := s.sent()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Feed(ctx, feed(next, keyOf(next)), distinct); err != nil {
			b.Fatal(err)
		}
		next++
	}
	b.StopTimer()
	if s.nc != nil {
		b.ReportMetric(float64(s.sent()-sent)/float64(b.N), "kv-ops/op")
	}
}

// BenchmarkWindowFeedParallel feeds from 64 goroutines at once, as the
// daemon's 64 workers do: what the server sustains on this machine
// (feeds/s), each feed at a key of its own (a read and a write).
func BenchmarkWindowFeedParallel(b *testing.B) {
	s := windowStores[0].open(b)
	ctx := b.Context()
	base := time.Now()
	var next atomic.Int64
	sent := s.sent()
	b.ReportAllocs()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			f := state.Feed{Window: "reports_spam", Key: "ru-" + strconv.Itoa(i), EventID: "evt-" + strconv.Itoa(i),
				Span: time.Minute, At: base.Add(time.Duration(i) * time.Microsecond)}
			if _, err := s.Feed(ctx, f, false); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "feeds/s")
	b.ReportMetric(float64(s.sent()-sent)/float64(b.N), "kv-ops/op")
}

func BenchmarkWindowCount(b *testing.B) {
	for _, st := range windowStores {
		for _, present := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/present=%t", st.name, present), func(b *testing.B) {
				s := st.open(b)
				ctx := b.Context()
				now := time.Now()
				if present {
					for i := range poolKeys {
						f := state.Feed{Window: "reports_spam", Key: "ru-" + strconv.Itoa(i), EventID: "evt-" + strconv.Itoa(i),
							Span: time.Minute, At: now}
						if _, err := s.Feed(ctx, f, false); err != nil {
							b.Fatal(err)
						}
					}
				}
				sent := s.sent()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					n, err := s.Count(ctx, "reports_spam", "ru-"+strconv.Itoa(i%poolKeys), time.Minute, false, now)
					if err != nil || (n == 1) != present {
						b.Fatalf("count: %d, %v", n, err)
					}
					i++
				}
				if s.nc != nil {
					b.ReportMetric(float64(s.sent()-sent)/float64(i), "kv-ops/op")
				}
			})
		}
	}
}

// BenchmarkPipelineWindows is engine.BenchmarkPipeline with 100 rules
// on the jsstate store, one event at a time (run it with -cpu 1): the
// plain rules (their cooldowns in JetStream), and the windows workload.
// Every event is new: each b.N run generates its own (a redelivered
// event feeds nothing). Actions are dry runs answered at once.
func BenchmarkPipelineWindows(b *testing.B) {
	for _, windows := range []int{0, 10} {
		b.Run(fmt.Sprintf("rules=100/windows=%d", windows), func(b *testing.B) {
			p, srv := newWindowPipeline(b, windows)
			ds := windowDeliveries(windows, b.N)
			ctx := context.Background()
			b.SetBytes(benchtest.EventSize)
			b.ReportAllocs()
			sent := srv.sent()
			b.ResetTimer()
			for i := range b.N {
				r := p.HandleMessage(ctx, ds[i])
				if r.Wait != nil {
					r = r.Wait(ctx)
				}
				if r.Verdict != engine.Ack {
					b.Fatalf("verdict %s (%s), want ack", r.Verdict, r.Reason)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(srv.sent()-sent)/float64(b.N), "kv-ops/event")
		})
	}
}

// newWindowPipeline is a dry-run pipeline on the jsstate store of an
// in-process server, with the plain rules (windows 0) or the windows
// workload.
func newWindowPipeline(b *testing.B, windows int) (*engine.Pipeline, windowStore) {
	b.Helper()
	data := benchtest.RulesYAML(100)
	if windows > 0 {
		data = windowWorkload(windows).RulesYAML()
	}
	set, err := rules.Compile(rules.Source{Path: "bench.yaml", Data: data})
	if err != nil {
		b.Fatalf("compile: %v", err)
	}
	st := windowStores[0].open(b)
	p, err := engine.NewPipeline(engine.PipelineConfig{Rules: staticRules{set}, Store: st.Store,
		Executor: dryRun{}, Recorder: discardOutcomes{}, DeadLetters: discardMalformed{}, DryRun: true})
	if err != nil {
		b.Fatal(err)
	}
	return p, st
}

func windowWorkload(windows int) benchtest.WindowWorkload {
	return benchtest.WindowWorkload{Rules: 100, Windows: windows, WindowEvery: 10, MatchEvery: 100, Keys: 10_000}
}

// windowDeliveries generates n deliveries of new events: of the plain
// workload (windows 0) or the windows workload.
func windowDeliveries(windows, n int) []engine.Delivery {
	at := time.Now()
	var next func(seq uint64) benchtest.Event
	if windows > 0 {
		g := benchtest.NewWindowGenerator(windowWorkload(windows), uint64(at.UnixNano()))
		next = func(seq uint64) benchtest.Event { return g.Next(seq, at) }
	} else {
		g := benchtest.NewGenerator(100, 100, uint64(at.UnixNano()))
		next = func(seq uint64) benchtest.Event { return g.Next(seq, at) }
	}
	ds := make([]engine.Delivery, n)
	for i := range ds {
		e := next(uint64(i))
		ds[i] = engine.Delivery{Subject: e.Subject, Data: append([]byte(nil), e.Data...), StreamSeq: uint64(i + 1),
			NumDelivered: 1, Published: at}
	}
	return ds
}

type staticRules struct{ set *rules.Set }

func (r staticRules) Current() *rules.Set { return r.set }

// dryRun answers every action at once as a dry run.
type dryRun struct{}

func (dryRun) Submit(_ context.Context, a engine.Action, done func(engine.Outcome, error)) error {
	done(engine.Outcome{Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params, Outcome: engine.DryRun}, nil)
	return nil
}

type discardOutcomes struct{}

func (discardOutcomes) Record(engine.Outcome) error { return nil }

type discardMalformed struct{}

func (discardMalformed) DeadLetterEvent(context.Context, engine.Malformed) error { return nil }
