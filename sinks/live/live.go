// Package live keeps the latest action outcomes in memory and hands each
// new one to whoever is watching: the console's live action list. It is
// an engine.Recorder placed beside the action log; it never blocks the
// recorder nor fails it. A subscriber that does not keep up is dropped
// (its channel closed, Dropped true) rather than slowing the daemon down;
// it may subscribe again and gets the latest outcomes as its backlog.
package live

import (
	"sync"

	"github.com/roomwarden/roomwarden/engine"
)

// Defaults of Config.
const (
	DefaultSize   = 50
	DefaultBuffer = 256
)

// Config configures a Recorder. Zero values take the defaults.
type Config struct {
	Size   int // outcomes kept for a new subscriber's backlog (DefaultSize)
	Buffer int // outcomes a subscriber may fall behind by before it is dropped (DefaultBuffer)
}

// Recorder keeps the last Size outcomes in a ring and fans each new one
// out to its subscribers.
type Recorder struct {
	buffer int

	mu   sync.Mutex
	ring []engine.Outcome // ring[next%len] is the oldest once full
	next int              // outcomes recorded so far
	subs map[*Subscription]struct{}
}

var _ engine.Recorder = (*Recorder)(nil)

// New returns an empty Recorder.
func New(cfg Config) *Recorder {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	return &Recorder{buffer: cfg.Buffer, ring: make([]engine.Outcome, cfg.Size), subs: map[*Subscription]struct{}{}}
}

// Record keeps o and sends it to every subscriber that has room for it;
// the others are dropped. It never blocks and never fails.
func (r *Recorder) Record(o engine.Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring[r.next%len(r.ring)] = o
	r.next++
	for s := range r.subs {
		select {
		case s.ch <- o:
		default:
			s.dropped = true
			r.remove(s)
		}
	}
	return nil
}

// Recent returns the outcomes kept, oldest first.
func (r *Recorder) Recent() []engine.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recent()
}

func (r *Recorder) recent() []engine.Outcome {
	n := min(r.next, len(r.ring))
	out := make([]engine.Outcome, 0, n)
	for i := r.next - n; i < r.next; i++ {
		out = append(out, r.ring[i%len(r.ring)])
	}
	return out
}

// Subscribe returns the outcomes kept, oldest first, and a subscription
// to every outcome recorded after them: none is missed or repeated
// between the two. Close the subscription when done.
func (r *Recorder) Subscribe() ([]engine.Outcome, *Subscription) {
	s := &Subscription{r: r, ch: make(chan engine.Outcome, r.buffer)}
	s.C = s.ch
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[s] = struct{}{}
	return r.recent(), s
}

// Subscribers returns how many subscriptions are open.
func (r *Recorder) Subscribers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

// remove closes s's channel once; r.mu is held.
func (r *Recorder) remove(s *Subscription) {
	if _, ok := r.subs[s]; ok {
		delete(r.subs, s)
		close(s.ch)
	}
}

// Subscription receives the outcomes recorded after it began.
type Subscription struct {
	// C delivers the outcomes in the order recorded. It is closed when
	// the subscription is closed or dropped.
	C <-chan engine.Outcome

	r       *Recorder
	ch      chan engine.Outcome
	dropped bool // guarded by r.mu
}

// Dropped reports whether C was closed because the subscriber fell more
// than Config.Buffer outcomes behind.
func (s *Subscription) Dropped() bool {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes C. Safe to call more than once.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.remove(s)
}
