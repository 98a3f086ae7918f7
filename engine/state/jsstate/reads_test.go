package jsstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv)
	s, err := Open(t.Context(), Config{JetStream: natstest.JetStream(t, nc), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if s.kv.batch == nil {
		t.Fatal("the state bucket allows direct gets, but the store reads without batches")
	}
	return s
}

// TestBatchRead sends one batch of reads of keys with a window, with a
// delete marker, without anything, and one key twice: one request, and
// every read gets what a read of its own gets.
func TestBatchRead(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	ctx, now := t.Context(), time.Now()
	for i, key := range []string{"k1", "k2", "k2", "k3"} {
		f := state.Feed{Window: "w", Key: key, EventID: fmt.Sprint("e", i), Span: time.Hour, At: now}
		if _, err := s.Feed(ctx, f, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.kv.remove(ctx, windowKey("w", "k3"), 0); err != nil {
		t.Fatal(err)
	}
	keys := []string{windowKey("w", "k1"), windowKey("w", "k2"), windowKey("w", "k3"), windowKey("w", "none"), windowKey("w", "k1")}
	var reads []*pendingRead
	for _, k := range keys {
		reads = append(reads, &pendingRead{key: k, done: make(chan struct{})})
	}
	nc := s.js.Conn()
	before := nc.Stats().OutMsgs
	s.kv.batch.send(reads)
	if n := nc.Stats().OutMsgs - before; n != 1 {
		t.Errorf("%d requests for a batch of %d reads, want 1", n, len(reads))
	}
	for _, p := range reads {
		<-p.done
		want, err := s.kv.get(ctx, p.key)
		if err != nil {
			t.Fatal(err)
		}
		if p.err != nil || p.rec.rev != want.rev || string(p.rec.val) != string(want.val) || (p.rec.val == nil) != (want.val == nil) {
			t.Errorf("batched read of %s = rev %d, %d bytes, nil %v, err %v; a read of its own: rev %d, %d bytes, nil %v",
				p.key, p.rec.rev, len(p.rec.val), p.rec.val == nil, p.err, want.rev, len(want.val), want.val == nil)
		}
	}
	if reads[0].rec.rev == 0 || reads[2].rec.rev == 0 || reads[2].rec.val != nil || !absent(reads[3].rec) {
		t.Errorf("want a record for k1, a marker for k3 and nothing for none; got %+v, %+v, %+v", reads[0].rec, reads[2].rec, reads[3].rec)
	}

	none := []*pendingRead{{key: windowKey("w", "x"), done: make(chan struct{})}, {key: windowKey("w", "y"), done: make(chan struct{})}}
	s.kv.batch.send(none)
	for _, p := range none {
		if p.err != nil || !absent(p.rec) {
			t.Errorf("read of a key nothing holds, in a batch where no key has a record: %+v, %v", p.rec, p.err)
		}
	}
}

// TestConcurrentCounts: many handlers counting windows at once share
// batches, and each gets the count of its own window key.
func TestConcurrentCounts(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	ctx, now := t.Context(), time.Now()
	const keys = 20
	for k := range keys {
		for e := range k % 4 { // key k holds k%4 entries
			f := state.Feed{Window: "w", Key: fmt.Sprint("k", k), EventID: fmt.Sprint("e", e), Span: time.Hour, At: now}
			if _, err := s.Feed(ctx, f, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := s.js.Conn().Stats().OutMsgs
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 20 {
				k := (g + i) % keys
				n, err := s.Count(ctx, "w", fmt.Sprint("k", k), time.Hour, false, now)
				if err != nil || n != k%4 {
					t.Errorf("count of k%d = %d, %v; want %d", k, n, err, k%4)
					return
				}
			}
		})
	}
	wg.Wait()
	// 64 handlers asking at once must share requests (41–90 were seen).
	if n := s.js.Conn().Stats().OutMsgs - before; n >= 1280 {
		t.Errorf("%d requests for 1280 reads by 64 handlers at once: no read shared a batch", n)
	}
}

// TestBatchReplyStatus: the statuses that end a batch.
func TestBatchReplyStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status string
		want   func(error) bool
	}{
		{"204", func(err error) bool { return err == nil }}, // Nats-Num-Pending: 0, below
		{"404", func(err error) bool { return err == nil }},
		{"503", func(err error) bool { return unavailable(err) }},
		{"408", func(err error) bool { return err != nil && !unavailable(err) }},
	} {
		r := &batchReader{batches: map[string]*batch{}}
		b := &batch{found: map[string]record{}, done: make(chan error, 1)}
		r.batches["7"] = b
		m := nats.NewMsg("_INBOX.x.7")
		m.Header.Set("Status", c.status)
		m.Header.Set("Nats-Num-Pending", "0")
		r.reply(m)
		select {
		case err := <-b.done:
			if !c.want(err) {
				t.Errorf("status %s ended the batch with %v", c.status, err)
			}
		default:
			t.Errorf("status %s did not end the batch", c.status)
		}
	}
}

// TestBatchUnanswered: a batch that no server takes (no responders), or
// that one takes and never answers, ends in an error that means the
// store is unavailable, within the reader's timeout.
func TestBatchUnanswered(t *testing.T) {
	for _, swallow := range []bool{false, true} {
		t.Run(fmt.Sprint("taken ", swallow), func(t *testing.T) { testBatchUnanswered(t, swallow) })
	}
}

func testBatchUnanswered(t *testing.T, swallow bool) {
	t.Parallel()
	s := openInternal(t)
	r, err := newBatchReader(s.js, s.kv, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	r.subject = "nobody.answers." + nats.NewInbox()
	if swallow {
		sub, err := s.js.Conn().SubscribeSync(r.subject)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	reads := []*pendingRead{{key: "a", done: make(chan struct{})}, {key: "b", done: make(chan struct{})}}
	start := time.Now()
	r.send(reads)
	if took := time.Since(start); took > 5*time.Second || (swallow && took < 200*time.Millisecond) {
		t.Errorf("send took %v, want the timeout of 200ms if the request is taken, less if not", took)
	}
	for _, p := range reads {
		if !unavailable(p.err) && !errors.Is(p.err, context.DeadlineExceeded) {
			t.Errorf("read of %s without an answer: %v, want unavailable", p.key, p.err)
		}
	}
}

func absent(r record) bool { return r.rev == 0 && r.val == nil }

// TestBatchCutShort: a batch the server ended with messages still
// pending (it sends at most max_pending bytes in one answer) is cut; the
// keys it did not answer are read alone, not taken for absent.
func TestBatchCutShort(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	ctx, now := t.Context(), time.Now()
	if _, err := s.Feed(ctx, state.Feed{Window: "w", Key: "k", EventID: "e", Span: time.Hour, At: now}, false); err != nil {
		t.Fatal(err)
	}
	r := s.kv.batch
	b := &batch{found: map[string]record{}, done: make(chan error, 1)}
	r.mu.Lock()
	r.batches["cut"] = b
	r.mu.Unlock()
	eob := nats.NewMsg(r.inbox + ".cut")
	eob.Header.Set("Status", "204")
	eob.Header.Set("Nats-Num-Pending", "1")
	r.reply(eob)
	if err := <-b.done; err != nil || !b.cut {
		t.Fatalf("an end of batch with 1 pending: err %v, cut %v; want nil, true", err, b.cut)
	}
	for _, cut := range []bool{true, false} {
		p := &pendingRead{key: windowKey("w", "k"), done: make(chan struct{})}
		r.answer(ctx, []*pendingRead{p}, b.found, cut, nil)
		if got := p.rec.rev != 0; got != cut || p.err != nil {
			t.Errorf("cut %v: a key the batch did not answer read as rev %d, err %v; want it read alone: %v", cut, p.rec.rev, p.err, cut)
		}
	}
}
