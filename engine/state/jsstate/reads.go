package jsstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reads in batches. A rule that reads a window on an event that does
// not feed it needs the window key's record fresh from the server: a
// request and a reply each. Under load many such reads wait at once, and
// their requests, replies and writes cost both processes more CPU than
// the reads themselves. A batchReader sends the reads that arrive while
// an earlier batch of its is in flight as one direct get of the last
// message of each key (JetStream's multi_last, nats-server 2.11+): one
// request, a reply per key that holds a record, and one that ends the
// batch. A read never joins a batch sent before it arrived, so each
// answer is as fresh as a read of its own; a read that finds no batch in
// flight is sent at once, alone, as a plain direct get.

// Bounds of a batchReader.
const (
	// maxBatchKeys bounds the keys of one batch (the server answers at
	// most 1024 messages to one request).
	maxBatchKeys = 256
	// maxBatchesInFlight is how many batches may wait for their replies
	// at once; reads arriving meanwhile queue for the next. One makes
	// the batches largest: in an A/B of the issue [2/6] workload (see
	// docs/BENCHMARKS.md) it used the least CPU per event of 1, 2, 4, 8
	// and 16.
	maxBatchesInFlight = 1
)

// batchReader reads keys of one KV bucket in batches. Safe for
// concurrent use.
type batchReader struct {
	b       *bucket
	nc      *nats.Conn
	subject string // the stream's direct get subject
	inbox   string // replies arrive on inbox.<batch token>
	timeout time.Duration
	sub     *nats.Subscription

	mu       sync.Mutex
	queue    []*pendingRead
	inFlight int
	batches  map[string]*batch // by token
	next     uint64            // the next batch token
}

// pendingRead is one caller's read: its key and, once done is closed,
// its answer.
type pendingRead struct {
	key  string
	done chan struct{}
	rec  record
	err  error
}

// batch is a multi_last request waiting for its replies.
type batch struct {
	found map[string]record // by subject
	cut   bool              // the server stopped short: messages were pending at the end
	done  chan error        // receives the batch's end: nil once all replies are in
}

// newBatchReader subscribes to the replies of b's batches; b's stream
// must allow direct gets.
func newBatchReader(js jetstream.JetStream, b *bucket, timeout time.Duration) (*batchReader, error) {
	r := &batchReader{
		b:       b,
		nc:      js.Conn(),
		subject: apiPrefix(js.Options()) + "DIRECT.GET." + b.stream.CachedInfo().Config.Name,
		inbox:   nats.NewInbox(),
		timeout: timeout,
		batches: make(map[string]*batch),
	}
	sub, err := r.nc.Subscribe(r.inbox+".*", r.reply)
	if err != nil {
		return nil, fmt.Errorf("subscribe to batch replies: %w", err)
	}
	r.sub = sub
	return r, nil
}

// apiPrefix is the JetStream API prefix of js's requests.
func apiPrefix(o jetstream.JetStreamOptions) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return "$JS.API."
}

func (r *batchReader) close() { _ = r.sub.Unsubscribe() }

// get reads key's last record, in the next batch sent. A read that
// finds a slot free sends the batch itself, without a goroutine between.
func (r *batchReader) get(ctx context.Context, key string) (record, error) {
	p := &pendingRead{key: key, done: make(chan struct{})}
	r.mu.Lock()
	r.queue = append(r.queue, p)
	send := r.inFlight < maxBatchesInFlight
	if send {
		r.inFlight++
	}
	r.mu.Unlock()
	if send && r.sendNext() { // a batch holding p, unless another slot took it
		r.mu.Lock()
		more := len(r.queue) > 0
		if !more {
			r.inFlight--
		}
		r.mu.Unlock()
		if more { // reads that arrived meanwhile: the slot goes on serving them
			go r.sendBatches()
		}
	}
	select {
	case <-p.done:
		return p.rec, p.err
	case <-ctx.Done():
		return record{}, fmt.Errorf("read %s: %w", key, ctx.Err())
	}
}

// sendBatches sends what is queued, batch after batch, until the queue
// is empty, holding an in-flight slot.
func (r *batchReader) sendBatches() {
	for r.sendNext() {
	}
}

// sendNext sends the next batch from the queue and reports whether there
// was one; with none, it gives its in-flight slot back.
func (r *batchReader) sendNext() bool {
	r.mu.Lock()
	n := min(len(r.queue), maxBatchKeys)
	if n == 0 {
		r.inFlight--
		r.mu.Unlock()
		return false
	}
	reads := append([]*pendingRead(nil), r.queue[:n]...)
	r.queue = append(r.queue[:0], r.queue[n:]...)
	r.mu.Unlock()
	r.send(reads)
	return true
}

// send reads the keys of reads and answers each.
func (r *batchReader) send(reads []*pendingRead) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	if len(reads) == 1 { // nothing to share: the plain direct get
		p := reads[0]
		p.rec, p.err = r.b.get(ctx, p.key)
		close(p.done)
		return
	}
	found, cut, err := r.multiLast(ctx, reads)
	r.answer(ctx, reads, found, cut, err)
}

// answer gives each read its record from found, or the batch's error. A
// key without a record in found is absent, unless the server cut the
// batch short (cut: it sends at most its max_pending bytes in one
// answer); then the key is read alone.
func (r *batchReader) answer(ctx context.Context, reads []*pendingRead, found map[string]record, cut bool, err error) {
	for _, p := range reads {
		switch rec, ok := found[r.b.pre+p.key]; {
		case err != nil:
			p.err = fmt.Errorf("read %s: %w", p.key, err)
		case ok || !cut:
			p.rec = rec
		default:
			p.rec, p.err = r.b.get(ctx, p.key)
		}
		close(p.done)
	}
}

// multiLast sends one request for the last message of every key of
// reads and collects the replies: a record per subject that has one, and
// whether the server stopped before the last.
func (r *batchReader) multiLast(ctx context.Context, reads []*pendingRead) (found map[string]record, cut bool, err error) {
	subjects := make([]string, 0, len(reads))
	seen := make(map[string]bool, len(reads))
	for _, p := range reads {
		if s := r.b.pre + p.key; !seen[s] {
			seen[s] = true
			subjects = append(subjects, s)
		}
	}
	req, err := json.Marshal(struct {
		MultiLast []string `json:"multi_last"`
	}{subjects})
	if err != nil {
		return nil, false, err
	}
	b := &batch{found: make(map[string]record, len(subjects)), done: make(chan error, 1)}
	r.mu.Lock()
	r.next++
	token := strconv.FormatUint(r.next, 36)
	r.batches[token] = b
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.batches, token)
		r.mu.Unlock()
	}()
	if err := r.nc.PublishRequest(r.subject, r.inbox+"."+token, req); err != nil {
		return nil, false, err
	}
	select {
	case err := <-b.done:
		return b.found, b.cut, err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// reply takes one reply of a batch: a key's last message, the end of
// the batch, or a status that ends it in error.
func (r *batchReader) reply(m *nats.Msg) {
	token := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.batches[token]
	if b == nil {
		return // the batch timed out
	}
	status := m.Header.Get("Status")
	switch status {
	case "":
		rec, err := directGetRecord(m)
		if err != nil {
			b.end(err)
			return
		}
		b.found[m.Header.Get(jetstream.SubjectHeader)] = rec
	case "204": // the end of the batch
		b.cut = m.Header.Get("Nats-Num-Pending") != "0"
		b.end(nil)
	case "404": // no key has a record
		b.end(nil)
	case "503":
		b.end(nats.ErrNoResponders)
	default:
		b.end(fmt.Errorf("direct get: %s %s", status, m.Header.Get("Description")))
	}
}

// end ends b with err, once.
func (b *batch) end(err error) {
	select {
	case b.done <- err:
	default:
	}
}

var errBadDirectGet = errors.New("direct get reply without a sequence")

// directGetRecord reads a direct get reply into the key's record.
func directGetRecord(m *nats.Msg) (record, error) {
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return record{}, errBadDirectGet
	}
	return recordOf(seq, m.Header, m.Data), nil
}
