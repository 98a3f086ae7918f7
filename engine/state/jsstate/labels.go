package jsstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/wait"
)

// labelMarkerTTL is how long a label bucket the store creates keeps the
// markers of expired keys. A watcher that lost its connection catches up
// from where it was, and sees an expiry only while its marker is there.
const labelMarkerTTL = 15 * time.Minute

// labelValue is what AddMember writes as a member's value: when the
// label expires, by the caller's clock. Any other value (empty, as
// `nats kv put watched_users u42 ""` writes, or anything a producer
// wants) makes a member until its key is deleted or expires.
type labelValue struct {
	Expires *time.Time `json:"expires,omitempty"`
}

// Members implements state.Labels. On a bucket's first use it opens (or
// creates) the bucket and starts a watcher that keeps the members in
// memory; later calls answer from memory, filtered by now. It fails with
// state.ErrUnavailable while the NATS connection is down, since the
// members may be stale then.
func (s *Store) Members(ctx context.Context, bucket string, now time.Time) (members map[string]struct{}, err error) {
	start := time.Now()
	defer func() { err = s.finish("members", start, err) }()
	l := s.lists.opened(bucket)
	if l == nil { // first use: open the bucket, within OpTimeout
		ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
		defer cancel()
		if l, err = s.lists.get(ctx, bucket); err != nil {
			return nil, err
		}
	}
	if st := s.js.Conn().Status(); st != nats.CONNECTED {
		return nil, fmt.Errorf("list %s: nats connection %s: %w", bucket, st, nats.ErrDisconnected)
	}
	return l.members(now), nil
}

// AddMember implements state.Labels: it puts member's key in bucket with
// its expiry in the value and, when the bucket allows per-key TTLs, a
// TTL that removes the key some seconds after.
func (s *Store) AddMember(ctx context.Context, bucket, member string, now time.Time, ttl time.Duration) (err error) {
	ctx, end := s.begin(ctx, "add_member")
	defer func() { err = end(err) }()
	l, err := s.lists.get(ctx, bucket)
	if err != nil {
		return err
	}
	var v labelValue
	var exp int64
	var serverTTL time.Duration
	if ttl > 0 {
		t := now.Add(ttl)
		v.Expires, exp = &t, t.UnixNano()
		if l.keyTTLs {
			serverTTL = keyTTL(now, t)
		}
	}
	val := []byte{}
	if v.Expires != nil {
		if val, err = json.Marshal(v); err != nil {
			return err
		}
	}
	rev, err := l.b.putAny(ctx, encodeMember(member), val, serverTTL)
	if err != nil {
		return fmt.Errorf("list %s: %w", bucket, err)
	}
	l.set(member, memberEntry{rev: rev, exp: exp})
	return nil
}

// labelLists are the label buckets in use, each opened once.
type labelLists struct {
	s      *Store
	mu     sync.Mutex
	m      map[string]*labelList
	closed bool // the store closed: no more watchers
}

var errClosed = errors.New("store closed")

// close stops new watchers from starting; the store then stops the
// running ones.
func (ls *labelLists) close() {
	ls.mu.Lock()
	ls.closed = true
	ls.mu.Unlock()
}

func newLabelLists(s *Store) *labelLists {
	return &labelLists{s: s, m: make(map[string]*labelList)}
}

// opened returns the list kept in bucket if it is open, else nil.
func (ls *labelLists) opened(name string) *labelList {
	ls.mu.Lock()
	l := ls.m[name]
	ls.mu.Unlock()
	if l == nil {
		return nil
	}
	select {
	case <-l.opened:
		if l.openErr == nil {
			return l
		}
	default:
	}
	return nil
}

// get returns the list kept in bucket, opening it on first use. A
// failed opening is forgotten, so the next call tries again.
func (ls *labelLists) get(ctx context.Context, name string) (*labelList, error) {
	ls.mu.Lock()
	l, ok := ls.m[name]
	if !ok {
		l = &labelList{name: name, opened: make(chan struct{}), entries: make(map[string]memberEntry),
			unseen: make(map[string]uint64)}
		ls.m[name] = l
	}
	ls.mu.Unlock()
	if !ok {
		if err := ls.open(ctx, l); err != nil {
			ls.mu.Lock()
			delete(ls.m, name)
			ls.mu.Unlock()
			l.openErr = err
		}
		close(l.opened)
	}
	select {
	case <-l.opened:
		return l, l.openErr
	case <-ctx.Done():
		return nil, fmt.Errorf("list %s: %w", name, ctx.Err())
	}
}

// open opens or creates the bucket and starts its watcher, returning
// once the watcher delivered the bucket's current keys.
func (ls *labelLists) open(ctx context.Context, l *labelList) error {
	s := ls.s
	if !validName.MatchString(l.name) {
		return fmt.Errorf("list bucket %q: a KV bucket name has letters, digits, - and _ only", l.name)
	}
	kv, err := s.ensureBucket(ctx, l.name, "roomwarden label list", labelMarkerTTL)
	if err != nil {
		return err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("KV bucket %s: status: %w", l.name, err)
	}
	if l.keyTTLs = st.LimitMarkerTTL() > 0; !l.keyTTLs {
		s.log.Warn("KV bucket has no per-key TTLs (limit_marker_ttl): labels with an expiry are ignored once expired but their keys stay",
			"bucket", l.name)
	}
	if l.b, err = newBucket(ctx, s.js, kv); err != nil {
		return err
	}
	w, snapshot, err := watch(ctx, s.life, kv)
	if err != nil {
		return fmt.Errorf("watch KV bucket %s: %w", l.name, err)
	}
	l.replace(snapshot)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		w.stop()
		return errClosed
	}
	s.wg.Go(func() { l.follow(s, w) })
	return nil
}

// memberEntry is one member: the revision that wrote it and when it
// expires (Unix nanoseconds; 0: when its key goes). A snapshot also
// holds the deleted keys it saw (gone).
type memberEntry struct {
	rev  uint64
	exp  int64
	gone bool
}

func entryOf(e jetstream.KeyValueEntry) memberEntry {
	if e.Operation() != jetstream.KeyValuePut {
		return memberEntry{rev: e.Revision(), gone: true}
	}
	return memberEntry{rev: e.Revision(), exp: expiryOf(e.Value())}
}

// labelList is the live membership of one bucket.
type labelList struct {
	name    string
	b       *bucket
	keyTTLs bool // the bucket allows per-key TTLs
	opened  chan struct{}
	openErr error

	mu      sync.Mutex
	entries map[string]memberEntry
	// unseen are this process's writes (member → revision) that no
	// watcher delivered yet: a new snapshot may predate them.
	unseen  map[string]uint64
	version uint64
	// The last answer of members, valid while version holds and now is
	// in [from, until): between the expiries around it.
	answer      map[string]struct{}
	answerVer   uint64
	from, until int64
}

// liveWatcher is a label bucket's watcher and the cancel of the context
// it runs under.
type liveWatcher struct {
	jetstream.KeyWatcher
	cancel context.CancelFunc
}

func (w liveWatcher) stop() {
	w.cancel()
	stopWatcher(w.KeyWatcher)
}

// watch starts a watcher of every key in kv that lives until life ends
// or it is stopped, and returns it with the members it delivered first
// (the bucket's current keys). It gives up if ctx ends before.
func watch(ctx, life context.Context, kv jetstream.KeyValue) (liveWatcher, map[string]memberEntry, error) {
	// The client unsubscribes a watcher when the context it was started
	// with ends, so it gets one of its own, which ends with ctx until the
	// snapshot is in.
	wctx, cancel := context.WithCancel(life)
	cancelEarly := context.AfterFunc(ctx, cancel)
	kw, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return liveWatcher{}, nil, err
	}
	w := liveWatcher{kw, cancel}
	snap, err := readSnapshot(ctx, w)
	if err == nil && !cancelEarly() {
		err = ctx.Err() // ctx ended meanwhile: the watcher is stopping
	}
	if err != nil {
		w.stop()
		return liveWatcher{}, nil, err
	}
	return w, snap, nil
}

// readSnapshot collects the watcher's initial entries, up to its nil
// marker, deleted ones included.
func readSnapshot(ctx context.Context, w jetstream.KeyWatcher) (map[string]memberEntry, error) {
	snap := make(map[string]memberEntry)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher stopped")
			}
			if e == nil {
				return snap, nil
			}
			snap[decodeMember(e.Key())] = entryOf(e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// follow applies the watcher's updates until the store closes. When
// the watcher stops (its subscription closed) or the connection comes
// back after a disconnection, it watches again and replaces the
// membership with the new snapshot: the client's own recovery of a
// watcher whose consumer the server lost waits for missed heartbeats.
func (l *labelList) follow(s *Store, w liveWatcher) {
	nc := s.js.Conn()
	reconnected := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(reconnected)
	for {
		select {
		case e, ok := <-w.Updates():
			if ok {
				l.apply(e)
				continue
			}
			w.cancel()
		case <-reconnected:
			w.stop()
		case <-s.life.Done():
			w.stop()
			return
		}
		var ok bool
		if w, ok = l.rewatch(s); !ok {
			return
		}
	}
}

// rewatch starts a new watcher, retrying until it has a snapshot or the
// store closes (false).
func (l *labelList) rewatch(s *Store) (liveWatcher, bool) {
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		if s.life.Err() != nil {
			return liveWatcher{}, false
		}
		ctx, cancel := context.WithTimeout(s.life, 2*s.cfg.OpTimeout)
		w, snap, err := watch(ctx, s.life, l.b.kv)
		cancel()
		if err == nil {
			l.replace(snap)
			return w, true
		}
		s.log.Warn("watching label bucket again", "bucket", l.name, "err", err, "retry_in", delay)
		if wait.For(s.life, delay) != nil {
			return liveWatcher{}, false
		}
	}
}

// apply applies one update from the watcher, unless this process
// already applied a later revision of the member (its own write).
func (l *labelList) apply(e jetstream.KeyValueEntry) {
	if e == nil {
		return
	}
	m, n := decodeMember(e.Key()), entryOf(e)
	l.mu.Lock()
	defer l.mu.Unlock()
	if rev, ok := l.unseen[m]; ok && n.rev >= rev {
		delete(l.unseen, m)
	}
	if cur, ok := l.entries[m]; ok && cur.rev >= n.rev {
		return
	}
	if n.gone {
		delete(l.entries, m)
	} else {
		l.entries[m] = n
	}
	l.version++
}

// set records this process's own write.
func (l *labelList) set(member string, e memberEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.entries[member]; ok && cur.rev >= e.rev {
		return
	}
	l.entries[member] = e
	l.unseen[member] = e.rev
	l.version++
}

// replace installs a snapshot, keeping this process's writes that it
// does not hold yet.
func (l *labelList) replace(snap map[string]memberEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for m, rev := range l.unseen {
		if e, ok := snap[m]; ok && e.rev >= rev {
			delete(l.unseen, m)
		} else if cur, ok := l.entries[m]; ok {
			snap[m] = cur
		}
	}
	for m, e := range snap {
		if e.gone {
			delete(snap, m)
		}
	}
	l.entries = snap
	l.version++
}

// members returns the members at now. The answer is shared between
// calls while it holds, and must not be modified.
func (l *labelList) members(now time.Time) map[string]struct{} {
	t := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.answer != nil && l.answerVer == l.version && t >= l.from && t < l.until {
		return l.answer
	}
	out := make(map[string]struct{}, len(l.entries))
	from, until := int64(math.MinInt64), int64(math.MaxInt64)
	for m, e := range l.entries {
		switch {
		case e.exp == 0:
			out[m] = struct{}{}
		case t < e.exp:
			out[m] = struct{}{}
			until = min(until, e.exp)
		default:
			from = max(from, e.exp)
		}
	}
	l.answer, l.answerVer, l.from, l.until = out, l.version, from, until
	return out
}

// expiryOf reads the expiry AddMember wrote; 0 for any other value.
func expiryOf(val []byte) int64 {
	if len(val) == 0 || val[0] != '{' {
		return 0
	}
	var v labelValue
	if json.Unmarshal(val, &v) != nil || v.Expires == nil {
		return 0
	}
	return v.Expires.UnixNano()
}
