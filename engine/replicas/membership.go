package replicas

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/executor"
	"github.com/roomwarden/roomwarden/internal/wait"
)

// Pacer is what a share is given to: the executor.
type Pacer interface {
	// SetShare makes perSecond the most calls in any rolling window;
	// lowering it counts the calls already in the window.
	SetShare(perSecond int)
}

var _ Pacer = (*executor.Executor)(nil)

// Config is how a replica joins the others. JetStream and Pacer are
// required; zero values of the rest take the defaults.
type Config struct {
	JetStream jetstream.JetStream
	Pacer     Pacer // given this replica's share, from Open on

	// Rate is executor.rate_per_second: the budget of all replicas
	// together (default 200, the Room Engine API's limit).
	Rate int
	// Window is the Pacer's rolling window (Executor.RateWindow): how
	// long calls made under an old share count. Default
	// executor.RateWindow.
	Window time.Duration
	// Bucket is the KV bucket of heartbeats (default
	// roomwarden_replicas). Replicas sharing a budget share a bucket.
	Bucket string
	// Replicas is the bucket's JetStream replication, when Open creates
	// it (config key state.replicas; default 1).
	Replicas int

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

// Defaults of Config.
const (
	DefaultBucket = "roomwarden_replicas"
	DefaultRate   = 200
)

// markerTTL is how long the bucket keeps the marker of a purged or
// expired key: long enough for every watcher to see it.
const markerTTL = time.Minute

// setupTimeout bounds Open's calls when its context has no deadline.
const setupTimeout = 10 * time.Second

var validBucket = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func (c Config) withDefaults() (Config, error) {
	c.Rate = cmp.Or(c.Rate, DefaultRate)
	c.Bucket = cmp.Or(c.Bucket, DefaultBucket)
	c.Replicas = cmp.Or(c.Replicas, 1)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if c.JetStream == nil || c.Pacer == nil {
		errs = append(errs, errors.New("jetstream and pacer are required"))
	}
	if c.Rate < 1 {
		errs = append(errs, fmt.Errorf("rate %d: want at least 1", c.Rate))
	}
	if !validBucket.MatchString(c.Bucket) {
		errs = append(errs, fmt.Errorf("bucket %q: use letters, digits, - and _ only", c.Bucket))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 5", c.Replicas))
	}
	return c, errors.Join(errs...)
}

// heartbeat is the value of a replica's key.
type heartbeat struct {
	Seq     uint64    `json:"seq"`   // numbers the beats of one process
	Rate    int       `json:"rate"`  // its executor.rate_per_second
	Share   int       `json:"share"` // its share when it sent the beat
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// Membership is this replica's heartbeat and its view of the others.
// Open joins; Run beats and follows until its context ends, then
// leaves.
type Membership struct {
	cfg     Config
	log     *slog.Logger
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	id      string
	subject string // where beats are published: $KV.<bucket>.<id>
	host    string
	started time.Time
	metrics *metrics

	mu        sync.Mutex
	view      *view
	seq       uint64
	applied   applied
	beatFails int                  // consecutive failed beats
	acked     map[uint64]time.Time // beats JetStream acknowledged, not yet seen back: when
}

// applied is the share last given to the pacer.
type applied struct {
	share, n int
	state    string
}

// Open creates the bucket if it is missing, registers the metrics, puts
// this replica's key, and reads the others: when it returns, the pacer
// has its share (0 while joining). Run keeps it.
func Open(ctx context.Context, cfg Config) (*Membership, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, setupTimeout)
		defer cancel()
	}
	host, _ := os.Hostname()
	m := &Membership{cfg: cfg, js: cfg.JetStream, host: host, started: time.Now(), acked: map[uint64]time.Time{}}
	m.id = newID(host)
	m.subject = "$KV." + cfg.Bucket + "." + m.id
	m.log = cfg.Logger.With("component", "replicas", "replica", m.id)
	m.view = newView(m.id, cfg.Rate, cmp.Or(cfg.Window, executor.RateWindow))
	if m.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	cfg.Pacer.SetShare(0)
	if m.kv, err = m.ensureBucket(ctx); err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	if err := m.join(ctx); err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	m.apply(time.Now())
	return m, nil
}

// ID is this replica's key in the bucket.
func (m *Membership) ID() string { return m.id }

// newID is hostname-pid-random, with the hostname's dots and other
// characters KV keys refuse replaced.
func newID(host string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, cmp.Or(host, "host"))
	var b [4]byte
	_, _ = rand.Read(b[:])
	return clean + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// ensureBucket opens the heartbeat bucket, creating it with per-key TTLs
// if it does not exist. Replicas starting together on a cluster race to
// create it; the losers may see it exist before its stream answers, so
// "not found" is tried again until ctx ends.
func (m *Membership) ensureBucket(ctx context.Context) (jetstream.KeyValue, error) {
	for {
		kv, err := m.openBucket(ctx)
		if err == nil {
			return kv, nil
		}
		notYet := errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)
		if !notYet || wait.For(ctx, 100*time.Millisecond) != nil {
			return nil, err
		}
	}
}

func (m *Membership) openBucket(ctx context.Context) (jetstream.KeyValue, error) {
	name := m.cfg.Bucket
	kv, err := m.js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = m.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         name,
			Description:    "roomwarden replicas: one heartbeat key per running daemon",
			History:        1,
			Storage:        jetstream.FileStorage,
			Replicas:       m.cfg.Replicas,
			LimitMarkerTTL: markerTTL,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = m.js.KeyValue(ctx, name) // another replica created it first
		} else if err == nil {
			m.log.Info("created KV bucket", "bucket", name, "replicas", m.cfg.Replicas)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", name, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: status: %w", name, err)
	}
	if ks, ok := st.(*jetstream.KeyValueBucketStatus); ok && ks.LimitMarkerTTL() == 0 {
		return nil, fmt.Errorf("KV bucket %s has no per-key TTLs (limit_marker_ttl): delete it and roomwarden recreates it", name)
	}
	return kv, nil
}

// join creates this replica's key (beat 0) and reads every key once.
func (m *Membership) join(ctx context.Context) error {
	val, _ := m.nextBeat()
	if _, err := m.kv.Create(ctx, m.id, val, jetstream.KeyTTL(keyTTL)); err != nil {
		return fmt.Errorf("create key %s: %w", m.id, err)
	}
	w, err := m.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", m.cfg.Bucket, err)
	}
	defer stopWatcher(w)
	m.mu.Lock()
	m.view.startSync()
	m.mu.Unlock()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s: stopped", m.cfg.Bucket)
			}
			m.observe(e, time.Now())
			if e == nil {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("watch %s: %w", m.cfg.Bucket, ctx.Err())
		}
	}
}

// Run beats every second and follows the others until ctx ends, giving
// the pacer each new share. Then it sets the share to 0 and purges this
// replica's key, so the others take over its share one window later:
// call it once the executor has stopped. The error says only that the
// key could not be purged (it then expires by itself).
//
// Beats, the watch and the share each have their own goroutine, so a
// NATS call that hangs delays neither the others nor the share's
// deadlines: the share drops to 0 on time when nothing comes back.
func (m *Membership) Run(ctx context.Context) error {
	poke := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() { m.beatLoop(ctx) })
	wg.Go(func() { m.watchLoop(ctx, poke) })
	m.evaluate(ctx, poke)
	wg.Wait()
	return m.leave()
}

// beatLoop renews the key at once and then every beatEvery.
func (m *Membership) beatLoop(ctx context.Context) {
	t := time.NewTicker(beatEvery)
	defer t.Stop()
	for {
		m.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// nextBeat numbers the next beat, notes when it is sent, and returns its
// value.
func (m *Membership) nextBeat() ([]byte, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	now := time.Now()
	m.view.beat(m.seq, now)
	val, _ := json.Marshal(heartbeat{Seq: m.seq, Rate: m.cfg.Rate, Share: m.applied.share,
		Host: m.host, PID: os.Getpid(), Started: m.started})
	return val, now
}

// beat renews the key with a per-message TTL (kv.Put cannot set one).
func (m *Membership) beat(ctx context.Context) {
	val, _ := m.nextBeat()
	bctx, cancel := context.WithTimeout(ctx, beatEvery)
	defer cancel()
	_, err := m.js.PublishMsg(bctx, &nats.Msg{Subject: m.subject, Data: val}, jetstream.WithMsgTTL(keyTTL))
	if ctx.Err() != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.metrics.beatFailures.Inc()
		if m.beatFails++; m.beatFails == 1 {
			m.log.Warn("heartbeat failed; the share drops to 0 if none gets through within "+staleAfter.String(), "err", err)
		}
		return
	}
	if m.beatFails > 0 {
		m.log.Info("heartbeats resumed", "failed", m.beatFails)
		m.beatFails = 0
	}
	m.acked[m.seqOf(val)] = time.Now()
}

// seqOf reads the sequence number of a beat's value.
func (m *Membership) seqOf(val []byte) uint64 {
	var hb heartbeat
	_ = json.Unmarshal(val, &hb)
	return hb.Seq
}

// watchStalled reports whether a beat JetStream acknowledged more than
// a beat ago has not come back through the watch: the watch's consumer
// is gone (its server restarted) and the client has not noticed yet.
func (m *Membership) watchStalled(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	stalled := false
	for seq, at := range m.acked {
		switch {
		case seq <= m.view.echoed:
			delete(m.acked, seq)
		case now.Sub(at) > beatEvery:
			stalled = true
		}
	}
	return stalled
}

// watchLoop follows the bucket until ctx ends, poking evaluate after
// every entry; a watch that fails or stops is started again a beat
// later, from the keys' current values.
func (m *Membership) watchLoop(ctx context.Context, poke chan<- struct{}) {
	for {
		m.watch(ctx, poke)
		if wait.For(ctx, beatEvery) != nil {
			return
		}
	}
}

func (m *Membership) watch(ctx context.Context, poke chan<- struct{}) {
	w, err := m.kv.WatchAll(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("watch failed; retrying", "err", err)
		}
		return
	}
	defer stopWatcher(w)
	m.mu.Lock()
	m.view.startSync()
	m.mu.Unlock()
	check := time.NewTicker(beatEvery)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-check.C:
			if m.watchStalled(now) {
				m.log.Warn("watch stalled: a heartbeat JetStream stored has not come back; restarting the watch")
				return
			}
		case e, ok := <-w.Updates():
			if !ok {
				m.log.Warn("watch stopped; restarting it")
				return
			}
			m.observe(e, time.Now())
			select {
			case poke <- struct{}{}:
			default:
			}
		}
	}
}

// evaluate applies the share whenever the watch pokes it and whenever a
// deadline of the view passes, until ctx ends.
func (m *Membership) evaluate(ctx context.Context, poke <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		timer.Reset(untilOrHour(now, m.apply(now)))
		select {
		case <-ctx.Done():
			return
		case <-poke:
		case <-timer.C:
		}
	}
}

// untilOrHour is how long from now until at, or an hour if at is zero.
func untilOrHour(now, at time.Time) time.Duration {
	if at.IsZero() {
		return time.Hour
	}
	return max(at.Sub(now), 0)
}

// observe applies one watch entry to the view (nil: the initial values
// are in).
func (m *Membership) observe(e jetstream.KeyValueEntry, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e == nil {
		m.view.endSync(now)
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		m.view.gone(e.Key(), now)
		return
	}
	var hb heartbeat
	if err := json.Unmarshal(e.Value(), &hb); err != nil || hb.Rate < 1 {
		hb.Rate = m.cfg.Rate // not a heartbeat we can read: count it, at our rate
	}
	m.view.put(e.Key(), hb.Rate, hb.Seq, now)
}

// apply gives the pacer the share as of now if it changed, and returns
// when it may change next without news.
func (m *Membership) apply(now time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	share, n, state := m.view.share(now)
	if a := (applied{share: share, n: n, state: state}); a != m.applied {
		m.cfg.Pacer.SetShare(share)
		m.metrics.replicas.Set(float64(n))
		m.metrics.share.Set(float64(share))
		m.log.Info("rate share", "share", share, "replicas", n, "state", state, "rate", m.cfg.Rate)
		m.applied = a
	}
	return m.view.next(now)
}

// leave gives up the share and purges the key.
func (m *Membership) leave() error {
	m.mu.Lock()
	m.cfg.Pacer.SetShare(0)
	m.metrics.share.Set(0)
	m.applied = applied{state: "left"}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.kv.Purge(ctx, m.id, jetstream.PurgeTTL(markerTTL)); err != nil {
		return fmt.Errorf("replicas: purge key %s (it expires in %s): %w", m.id, keyTTL, err)
	}
	m.log.Info("left")
	return nil
}

// stopWatcher stops w in the background (the client deletes its
// consumer, which may wait for a server that does not answer) and
// drains what it still delivers, so its goroutine can end.
func stopWatcher(w jetstream.KeyWatcher) {
	go func() {
		_ = w.Stop()
		for range w.Updates() {
		}
	}()
}
