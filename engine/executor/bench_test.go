package executor

import (
	"github.com/roomwarden/roomwarden/engine"

	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// execNopSink answers every call at once.
type execNopSink struct{}

func (execNopSink) LockSeat(context.Context, engine.LockSeat) (engine.Receipt, error) {
	return engine.Receipt{RequestID: "req"}, nil
}

// startBenchExecutor builds and runs an Executor on sink until b ends.
func startBenchExecutor(b *testing.B, cfg Config, sink engine.Sink) *Executor {
	b.Helper()
	cfg.Sink, cfg.DryRun, cfg.DeadLetters = sink, execNopSink{}, &execFakeDLQ{}
	e, err := New(cfg)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = e.Stop(ctx)
	})
	return e
}

// BenchmarkExecutorOverhead measures the executor's own cost per action:
// submit, queue, limiter, worker, outcome; the sink answers at once and
// the rate limit is set far above the achieved rate.
func BenchmarkExecutorOverhead(b *testing.B) {
	e := startBenchExecutor(b, Config{RatePerSecond: maxRatePerSecond, QueueSize: 4096}, execNopSink{})
	var wg sync.WaitGroup
	done := func(engine.Outcome, error) { wg.Done() }
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		wg.Add(1)
		a := engine.Action{Rule: "r", EventID: "e", Kind: engine.ActionLockSeat, Params: engine.LockSeat{RoomID: "room", Index: i}}
		if err := e.Submit(ctx, a, done); err != nil {
			b.Fatalf("Submit: %v", err)
		}
	}
	wg.Wait()
}

// BenchmarkExecutorRate runs a backlog of 2,000 distinct actions through
// an executor limited to 200 calls per second, reports the achieved
// rate and the most calls in any rolling second at the sink, and fails
// if any window of checkedWindow holds more than 200.
func BenchmarkExecutorRate(b *testing.B) {
	for range b.N {
		sink := &execFakeSink{}
		benchExecutorRate(b, sink, sink.times)
	}
}

// BenchmarkExecutorRateHTTP is BenchmarkExecutorRate with each call a
// real HTTP round trip to a bare loopback server that records arrival
// times and answers OK: the pacing seen across a network stack, without
// the Room Engine client or the simulator (`loadgen executor` runs
// both).
func BenchmarkExecutorRateHTTP(b *testing.B) {
	for range b.N {
		srv := &execArrivals{}
		ts := httptest.NewServer(srv)
		client := ts.Client()
		// Keep-alive for every worker, as the Room Engine client does.
		client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		sink := &execHTTPSink{url: ts.URL, client: client}
		benchExecutorRate(b, sink, srv.times)
		ts.Close()
	}
}

// benchExecutorRate submits the backlog, waits for it and reports the
// figures from the call times.
func benchExecutorRate(b *testing.B, sink engine.Sink, times func() []time.Time) {
	b.Helper()
	const limit, backlog = 200, 2000
	e := startBenchExecutor(b, Config{RatePerSecond: limit, QueueSize: backlog}, sink)
	c := newExecCollector()
	for i := range backlog {
		if err := e.Submit(context.Background(), execAction(execSeat("room-b", i), i), c.done); err != nil {
			b.Fatalf("Submit: %v", err)
		}
	}
	for range backlog {
		if r := <-c.ch; r.err != nil || r.o.Outcome != engine.Succeeded {
			b.Fatalf("outcome %s, err %v", r.o.Outcome, r.err)
		}
	}
	ts := times()
	first, last := ts[0], ts[0]
	for _, t := range ts {
		first, last = minTime(first, t), maxTime(last, t)
	}
	perSecond := float64(len(ts)-1) / last.Sub(first).Seconds()
	b.ReportMetric(perSecond, "calls/s")
	b.ReportMetric(100*perSecond/limit, "%of-limit")
	b.ReportMetric(float64(maxInWindow(ts, time.Second)), "max-calls/rolling-s")
	if got := maxInWindow(ts, checkedWindow); got > limit {
		b.Fatalf("%d calls within %s at the sink, want at most %d", got, checkedWindow, limit)
	}
}

// execArrivals is an HTTP handler that records when each request arrived
// and answers like a successful lock_seat.
type execArrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *execArrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	a.at = append(a.at, now)
	a.mu.Unlock()
	_, _ = io.WriteString(w, `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","RequestId":"req"}`)
}

func (a *execArrivals) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}

// execHTTPSink POSTs each call to url; just enough HTTP for the benchmark.
type execHTTPSink struct {
	url    string
	client *http.Client
}

func (s *execHTTPSink) LockSeat(ctx context.Context, p engine.LockSeat) (engine.Receipt, error) {
	body := fmt.Sprintf(`{"RoomId":%q,"Index":%d}`, p.RoomID, p.Index)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/v4/room_engine_http_mic/lock_seat", strings.NewReader(body))
	if err != nil {
		return engine.Receipt{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return engine.Receipt{}, &engine.CallError{Class: engine.Retryable, Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return engine.Receipt{RequestID: "req"}, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
