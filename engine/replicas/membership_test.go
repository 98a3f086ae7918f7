package replicas_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/executor"
	"github.com/roomwarden/roomwarden/engine/replicas"
	"github.com/roomwarden/roomwarden/internal/natstest"
	"github.com/roomwarden/roomwarden/internal/promtest"
)

// Timings the tests bound their waits with; see the package comment.
const (
	keyTTL     = 3 * time.Second
	staleAfter = 2 * time.Second
	hold       = staleAfter + executor.RateWindow
	patience   = 45 * time.Second // deadlock guard: conditions hold far sooner
)

// fakePacer records every share it is given.
type fakePacer struct {
	mu     sync.Mutex
	shares []shareAt
}

type shareAt struct {
	at    time.Time
	share int
}

func (p *fakePacer) SetShare(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shares = append(p.shares, shareAt{time.Now(), n})
}

func (p *fakePacer) history() []shareAt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.shares)
}

func (p *fakePacer) last() int {
	h := p.history()
	if len(h) == 0 {
		return -1
	}
	return h[len(h)-1].share
}

// member is a Membership under test with its pacer and metrics.
type member struct {
	*replicas.Membership
	pacer  *fakePacer
	reg    *prometheus.Registry
	opened time.Time // when Open was called
	stop   func()    // ends Run and waits for it
}

// join opens a member on its own connection to srv and runs it until
// the test ends or stop is called.
func join(t *testing.T, srv *server.Server, rate int) *member {
	t.Helper()
	m := &member{pacer: &fakePacer{}, reg: prometheus.NewRegistry(), opened: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	m.Membership, err = replicas.Open(ctx, replicas.Config{JetStream: connect(t, srv), Pacer: m.pacer, Rate: rate,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})), Registerer: m.reg})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Run(runCtx); err != nil {
			t.Logf("Run: %v", err)
		}
	}()
	var once sync.Once
	m.stop = func() { once.Do(func() { stop(); <-done }) }
	t.Cleanup(m.stop)
	return m
}

func connect(t *testing.T, srv *server.Server) jetstream.JetStream {
	t.Helper()
	nc := natstest.Connect(t, srv, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	return natstest.JetStream(t, nc)
}

// waitShare waits until m's pacer was last given share and its metrics
// say so with n replicas, and returns when it saw it.
func waitShare(t *testing.T, m *member, share, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		if m.pacer.last() == share && promtest.MustValue(t, m.reg, "roomwarden_replica_rate_share") == float64(share) &&
			promtest.MustValue(t, m.reg, "roomwarden_replicas") == float64(n) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: share %d (history %v), want %d of %d replicas", m.ID(), m.pacer.last(), m.pacer.history(), share, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstNonZero is when the pacer was first given a share above 0.
func firstNonZero(h []shareAt) (time.Time, bool) {
	for _, s := range h {
		if s.share > 0 {
			return s.at, true
		}
	}
	return time.Time{}, false
}

// TestTwoMembersSplitTheRate: a member alone has the whole rate at once;
// a second one gets 0 until its hold has passed, then both have half;
// the first lowers its share as soon as it sees the second.
func TestTwoMembersSplitTheRate(t *testing.T) {
	srv := natstest.RunServer(t)
	a := join(t, srv, 200)
	if got := a.pacer.last(); got != 200 {
		t.Fatalf("alone: share after Open = %d, want 200 (history %v)", got, a.pacer.history())
	}
	b := join(t, srv, 200)
	if got := b.pacer.last(); got != 0 {
		t.Fatalf("joiner: share after Open = %d, want 0 (history %v)", got, b.pacer.history())
	}
	waitShare(t, a, 100, 2)
	waitShare(t, b, 100, 2)
	first, _ := firstNonZero(b.pacer.history())
	if held := first.Sub(b.opened); held < hold {
		t.Errorf("joiner: first share above 0 after %v, want at least its hold %v", held, hold)
	}
	for _, s := range a.pacer.history() {
		if s.share > 100 && s.at.After(first) {
			t.Errorf("first member had share %d at %v, after the joiner started calling at %v", s.share, s.at, first)
		}
	}
}

// TestSilentMemberDropped: a member that beats once and never again (a
// key written by hand, as a killed daemon leaves it) counts until its
// key expires, then for one window more; a member that stops cleanly
// purges its key and the other raises its share without waiting for the
// TTL.
func TestSilentMemberDropped(t *testing.T) {
	srv := natstest.RunServer(t)
	a := join(t, srv, 200)
	js := connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, replicas.DefaultBucket)
	if err != nil {
		t.Fatalf("bucket: %v", err)
	}
	val, _ := json.Marshal(map[string]any{"seq": 1, "rate": 200})
	created := time.Now()
	if _, err := kv.Create(ctx, "killed-1-0000", val, jetstream.KeyTTL(keyTTL)); err != nil {
		t.Fatalf("create the silent member's key: %v", err)
	}
	waitShare(t, a, 100, 2)
	raised := waitShare(t, a, 200, 1)
	if d := raised.Sub(created); d < keyTTL {
		t.Errorf("share raised %v after the silent member's only beat, want at least its TTL %v", d, keyTTL)
	}

	b := join(t, srv, 200)
	waitShare(t, a, 100, 2)
	waitShare(t, b, 100, 2)
	stopped := time.Now()
	b.stop()
	if got := b.pacer.last(); got != 0 {
		t.Errorf("stopped member's share = %d, want 0", got)
	}
	if _, err := kv.Get(ctx, b.ID()); err == nil {
		t.Errorf("stopped member's key %s still in the bucket", b.ID())
	}
	raised = waitShare(t, a, 200, 1)
	if d := raised.Sub(stopped); d < executor.RateWindow {
		t.Errorf("share raised %v after the other member left, want at least one rate window %v", d, executor.RateWindow)
	}
}

// TestCutOffMemberSilent: a member whose heartbeats stop coming back
// (the NATS server is gone) drops its share to 0, and takes it up again
// once the server is back.
func TestCutOffMemberSilent(t *testing.T) {
	dir := t.TempDir()
	srv := natstest.RunServer(t, natstest.WithStoreDir(dir))
	port := srv.Addr().(*net.TCPAddr).Port
	a := join(t, srv, 200)
	time.Sleep(time.Second) // let Run's own watch start: it must survive the restart
	srv.Shutdown()
	srv.WaitForShutdown()
	waitShare(t, a, 0, 1)
	natstest.RunServer(t, natstest.WithStoreDir(dir), natstest.WithPort(port))
	waitShare(t, a, 200, 1)
	a.stop() // while the server runs, so that the key is purged
}
