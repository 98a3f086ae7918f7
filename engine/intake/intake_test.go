package intake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/roomwarden/roomwarden/internal/natstest"

	"github.com/roomwarden/roomwarden/engine"
)

// testPatience bounds every wait in these tests; it is a deadlock guard,
// not a speed expectation.
const testPatience = 30 * time.Second

// handlerFunc adapts a function to MessageHandler.
type handlerFunc func(ctx context.Context, d engine.Delivery) engine.Result

func (f handlerFunc) HandleMessage(ctx context.Context, d engine.Delivery) engine.Result {
	return f(ctx, d)
}

// recorder is a handler that records deliveries and answers with decide.
type recorder struct {
	mu     sync.Mutex
	got    []engine.Delivery
	decide func(ctx context.Context, d engine.Delivery) engine.Result
}

func (r *recorder) HandleMessage(ctx context.Context, d engine.Delivery) engine.Result {
	r.mu.Lock()
	r.got = append(r.got, d)
	r.mu.Unlock()
	if r.decide == nil {
		return engine.Result{Verdict: engine.Ack}
	}
	return r.decide(ctx, d)
}

func (r *recorder) deliveries() []engine.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// deadLetters is an EventDeadLetterSink double.
type deadLetters struct {
	mu  sync.Mutex
	got []engine.Malformed
}

func (d *deadLetters) DeadLetterEvent(_ context.Context, m engine.Malformed) error {
	d.mu.Lock()
	d.got = append(d.got, m)
	d.mu.Unlock()
	return nil
}

func (d *deadLetters) all() []engine.Malformed {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read metric: %v", err)
	}
	return m.GetCounter().GetValue()
}

func testConfig() Config {
	return Config{
		Stream:      "ROOM_EVENTS",
		Subjects:    []string{"rooms.events.>"},
		Durable:     "roomwarden",
		AckWait:     2 * time.Second,
		Concurrency: 16,
	}
}

// testDrain is how long stopping an intake in these tests waits for the
// handlers in flight: a deadlock guard, like testPatience.
const testDrain = testPatience

// slowAckWait is the AckWait of the tests that hold a message past it.
// The intake sends InProgress every quarter of AckWait for a message
// held at least that long, so a message goes at most half of AckWait
// without one: 1.5 s of slack for a loaded machine to schedule the
// keep-alive before the server would redeliver.
const slowAckWait = 3 * time.Second

// newIntake builds an intake on js handing messages to h.
func newIntake(t testing.TB, js jetstream.JetStream, cfg Config, h engine.MessageHandler, reg prometheus.Registerer) *Intake {
	t.Helper()
	cfg.JetStream, cfg.Handler, cfg.Registerer = js, h, reg
	in, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return in
}

// connect returns a JetStream context on a connection that reconnects
// forever.
func connect(t *testing.T, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc := natstest.Connect(t, s, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	return natstest.JetStream(t, nc)
}

// runIntake builds an intake, sets it up and runs it until the returned
// stop function is called (or the test ends).
func runIntake(t *testing.T, js jetstream.JetStream, cfg Config, h engine.MessageHandler) (*Intake, func()) {
	t.Helper()
	return runIntakeDrain(t, js, cfg, h, testDrain)
}

// runIntakeDrain is runIntake whose stop waits drain for the handlers
// in flight.
func runIntakeDrain(t *testing.T, js jetstream.JetStream, cfg Config, h engine.MessageHandler, drain time.Duration) (*Intake, func()) {
	t.Helper()
	in := newIntake(t, js, cfg, h, prometheus.NewRegistry())
	if err := in.Setup(t.Context()); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- in.Run() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			_ = in.Stop(ctx)
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return in, stop
}

func publish(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testPatience)
	defer cancel()
	for i := range n {
		id := fmt.Sprintf("evt-%04d", i)
		data := fmt.Appendf(nil, `{"id":%q,"type":"member.enter"}`, id)
		if _, err := js.Publish(ctx, "rooms.events.member.enter", data, jetstream.WithMsgID(id)); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testPatience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func consumerInfo(t *testing.T, js jetstream.JetStream, cfg Config) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testPatience)
	defer cancel()
	c, err := js.Consumer(ctx, cfg.Stream, cfg.Durable)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return info
}

// waitSettled waits until the consumer has nothing pending or waiting
// for an ack.
func waitSettled(t *testing.T, js jetstream.JetStream, cfg Config) {
	t.Helper()
	waitFor(t, "every message acknowledged", func() bool {
		info := consumerInfo(t, js, cfg)
		return info.NumAckPending == 0 && info.NumPending == 0
	})
}

func TestIntakeAcksEveryMessage(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	h := &recorder{}
	in, _ := runIntake(t, js, cfg, h)
	const n = 200
	publish(t, js, n)
	waitSettled(t, js, cfg)

	got := h.deliveries()
	if len(got) != n {
		t.Fatalf("handled %d deliveries, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, d := range got {
		want := fmt.Sprintf("evt-%04d", d.StreamSeq-1)
		if d.MsgID != want || d.NumDelivered != 1 || d.Subject != "rooms.events.member.enter" || d.Published.IsZero() {
			t.Errorf("delivery = %+v, want msg id %s, delivered once, subject and timestamp set", d, want)
		}
		if wantData := fmt.Sprintf(`{"id":%q,"type":"member.enter"}`, want); string(d.Data) != wantData {
			t.Errorf("data = %s, want %s", d.Data, wantData)
		}
		seen[d.MsgID] = true
	}
	if len(seen) != n {
		t.Errorf("distinct events handled = %d, want %d", len(seen), n)
	}
	if got := counterValue(t, in.metrics.verdicts[engine.Ack]); got != n {
		t.Errorf("acked metric = %v, want %d", got, n)
	}
	if err := in.Ready(); err != nil {
		t.Errorf("Ready() = %v while running, want nil", err)
	}
}

// TestIntakeDoubleAck checks the path that bypasses the ack batcher:
// every message is acked and confirmed by the server.
func TestIntakeDoubleAck(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	cfg.DoubleAck = true
	in, _ := runIntake(t, js, cfg, &recorder{})
	const n = 20
	publish(t, js, n)
	waitSettled(t, js, cfg)
	if got := counterValue(t, in.metrics.verdicts[engine.Ack]); got != n {
		t.Errorf("acked metric = %v, want %d", got, n)
	}
	if got := counterValue(t, in.metrics.ackErrors); got != 0 {
		t.Errorf("ack errors = %v, want 0", got)
	}
}

func TestIntakeVerdicts(t *testing.T) {
	t.Parallel()
	const nakDelay = 300 * time.Millisecond
	tests := []struct {
		name          string
		first         engine.Result
		wantDelivered int // deliveries of the event once settled
	}{
		{"ack is not redelivered", engine.Result{Verdict: engine.Ack}, 1},
		{"nak is redelivered after the delay", engine.Result{Verdict: engine.Nak, Delay: nakDelay}, 2},
		{"term is never redelivered", engine.Result{Verdict: engine.Term, Reason: "malformed"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := natstest.RunServer(t)
			js := connect(t, s)
			cfg := testConfig()
			h := &recorder{decide: func(_ context.Context, d engine.Delivery) engine.Result {
				if d.NumDelivered == 1 {
					return tc.first
				}
				return engine.Result{Verdict: engine.Ack}
			}}
			runIntake(t, js, cfg, h)
			publish(t, js, 1)
			waitSettled(t, js, cfg)

			got := h.deliveries()
			if len(got) != tc.wantDelivered {
				t.Fatalf("deliveries = %d, want %d", len(got), tc.wantDelivered)
			}
			if tc.wantDelivered == 2 {
				if got[1].NumDelivered != 2 {
					t.Errorf("second NumDelivered = %d, want 2", got[1].NumDelivered)
				}
			}
			if info := consumerInfo(t, js, cfg); info.NumRedelivered != 0 {
				t.Errorf("NumRedelivered = %d, want 0", info.NumRedelivered)
			}
		})
	}
}

func TestIntakeNakWaitsForDelay(t *testing.T) {
	t.Parallel()
	const delay = 500 * time.Millisecond
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	var mu sync.Mutex
	var times []time.Time
	h := handlerFunc(func(_ context.Context, d engine.Delivery) engine.Result {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if d.NumDelivered == 1 {
			return engine.Result{Verdict: engine.Nak, Delay: delay}
		}
		return engine.Result{Verdict: engine.Ack}
	})
	runIntake(t, js, cfg, h)
	publish(t, js, 1)
	// Consumer info can read settled before the first delivery, and
	// between the Nak and the redelivery: wait for both deliveries first.
	waitFor(t, "the redelivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(times) >= 2
	})
	waitSettled(t, js, cfg)
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2 {
		t.Fatalf("deliveries = %d, want 2", len(times))
	}
	// A lower bound only: the server must not redeliver before the delay.
	if gap := times[1].Sub(times[0]); gap < delay {
		t.Errorf("redelivered after %s, want at least %s", gap, delay)
	}
}

// TestIntakeLeaveOnShutdownIsRedelivered: a handler cut short by a hard
// shutdown leaves its message, which the intake gives back at once: the
// next intake gets it long before AckWait, which is set beyond the
// test's patience so that only the prompt give-back can bring it.
func TestIntakeLeaveOnShutdownIsRedelivered(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	cfg.AckWait = 2 * testPatience
	started := make(chan struct{})
	var once sync.Once
	blocking := handlerFunc(func(ctx context.Context, _ engine.Delivery) engine.Result {
		once.Do(func() { close(started) })
		<-ctx.Done() // hard shutdown
		return engine.Result{Verdict: engine.Leave}
	})
	first, stop := runIntakeDrain(t, js, cfg, blocking, 100*time.Millisecond)
	publish(t, js, 1)
	<-started
	stop()
	if got := counterValue(t, first.metrics.verdicts[engine.Leave]); got != 1 {
		t.Errorf("left metric = %v, want 1", got)
	}
	if err := first.Ready(); err == nil {
		t.Error("Ready() = nil after Run returned, want an error")
	}

	h := &recorder{}
	runIntake(t, js, cfg, h)
	waitSettled(t, js, cfg)
	got := h.deliveries()
	if len(got) != 1 || got[0].NumDelivered != 2 || got[0].MsgID != "evt-0000" {
		t.Errorf("new intake got %+v, want evt-0000 delivered a second time", got)
	}
}

func TestIntakeShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	started, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Int32
	h := handlerFunc(func(ctx context.Context, _ engine.Delivery) engine.Result {
		close(started)
		select {
		case <-release:
		case <-ctx.Done():
			return engine.Result{Verdict: engine.Leave}
		}
		handled.Add(1)
		return engine.Result{Verdict: engine.Ack}
	})
	_, stop := runIntake(t, js, cfg, h)
	publish(t, js, 1)
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	close(release) // finishes within the drain
	<-stopped
	if handled.Load() != 1 {
		t.Fatalf("handled = %d, want 1", handled.Load())
	}
	waitSettled(t, js, cfg) // the ack went out before Run returned
}

// TestIntakeInProgressKeepsSlowHandlerAlive: a handler that runs for two
// AckWaits is kept alive with InProgress (see slowAckWait): the server
// never redelivers its message, even with backoff steps shorter than
// AckWait (the intake raises them to it).
func TestIntakeInProgressKeepsSlowHandlerAlive(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	cfg.AckWait = slowAckWait
	cfg.BackOff = []time.Duration{100 * time.Millisecond, time.Second} // raised to AckWait
	h := &recorder{decide: func(context.Context, engine.Delivery) engine.Result {
		time.Sleep(2 * cfg.AckWait) // without InProgress, redelivered after one
		return engine.Result{Verdict: engine.Ack}
	}}
	runIntake(t, js, cfg, h)
	publish(t, js, 1)
	waitFor(t, "the slow handler to start", func() bool { return len(h.deliveries()) == 1 })
	waitSettled(t, js, cfg)
	got := h.deliveries()
	if len(got) != 1 || got[0].NumDelivered != 1 {
		t.Errorf("deliveries = %+v, want one with NumDelivered 1", got)
	}
	if info := consumerInfo(t, js, cfg); info.NumRedelivered != 0 || info.Delivered.Consumer != 1 {
		t.Errorf("consumer delivered %d, redelivered %d; want 1 and 0", info.Delivered.Consumer, info.NumRedelivered)
	}
}

func TestIntakeConcurrencyBound(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	cfg.Concurrency = 8
	var active, peak atomic.Int32
	full, release := make(chan struct{}), make(chan struct{})
	var fullOnce sync.Once
	h := handlerFunc(func(context.Context, engine.Delivery) engine.Result {
		n := active.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n == int32(cfg.Concurrency) {
			fullOnce.Do(func() { close(full) })
		}
		<-release
		active.Add(-1)
		return engine.Result{Verdict: engine.Ack}
	})
	runIntake(t, js, cfg, h)
	publish(t, js, 5*cfg.Concurrency)
	<-full
	close(release)
	waitSettled(t, js, cfg)
	if got := peak.Load(); got != int32(cfg.Concurrency) {
		t.Errorf("peak concurrent handlers = %d, want %d", got, cfg.Concurrency)
	}
}

func TestIntakeSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	pub := connect(t, s)
	cfg := testConfig()
	h := &recorder{}
	runIntake(t, js, cfg, h)
	publish(t, pub, 50)
	waitFor(t, "some events handled", func() bool { return len(h.deliveries()) > 0 })

	s = natstest.Restart(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), testPatience)
	defer cancel()
	for i := 50; i < 100; i++ {
		id := fmt.Sprintf("evt-%04d", i)
		if _, err := pub.Publish(ctx, "rooms.events.member.enter", []byte(id), jetstream.WithMsgID(id), jetstream.WithRetryAttempts(100)); err != nil {
			t.Fatalf("publish %s after restart: %v", id, err)
		}
	}
	waitFor(t, "all 100 events handled", func() bool { return distinctIDs(h.deliveries()) == 100 })
	waitSettled(t, js, cfg)
}

func distinctIDs(ds []engine.Delivery) int {
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.MsgID] = true
	}
	return len(seen)
}

func TestIntakeRecreatesDeletedConsumer(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	h := &recorder{}
	in, _ := runIntake(t, js, cfg, h)
	publish(t, js, 1)
	waitSettled(t, js, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), testPatience)
	defer cancel()
	if err := js.DeleteConsumer(ctx, cfg.Stream, cfg.Durable); err != nil {
		t.Fatalf("delete consumer: %v", err)
	}
	// The recreated consumer starts from the stream's beginning again:
	// evt-0000 comes back (harmless: actions are idempotent), then the new
	// event.
	waitFor(t, "the consumer to come back", func() bool {
		_, err := js.Consumer(ctx, cfg.Stream, cfg.Durable)
		return err == nil
	})
	if _, err := js.Publish(ctx, "rooms.events.x", []byte("after"), jetstream.WithMsgID("after")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitFor(t, "the event published after the deletion", func() bool {
		return slices.ContainsFunc(h.deliveries(), func(d engine.Delivery) bool { return d.MsgID == "after" })
	})
	if got := counterValue(t, in.metrics.consumerErrors); got == 0 {
		t.Error("consumer errors metric = 0, want the deletion counted")
	}
}

func TestIntakeMaxDeliverDeadLetters(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	cfg.MaxDeliver = 2
	dl := &deadLetters{}
	cfg.DeadLetters = dl
	h := &recorder{decide: func(context.Context, engine.Delivery) engine.Result {
		return engine.Result{Verdict: engine.Nak, Delay: 10 * time.Millisecond}
	}}
	in, _ := runIntake(t, js, cfg, h)
	publish(t, js, 1)
	waitFor(t, "a dead letter", func() bool { return len(dl.all()) == 1 })

	got := dl.all()[0]
	want := engine.Malformed{
		Subject:   "rooms.events.member.enter",
		StreamSeq: 1,
		Reason:    "exceeded max deliveries (2)",
		Data:      []byte(`{"id":"evt-0000","type":"member.enter"}`),
	}
	if got.Subject != want.Subject || got.StreamSeq != want.StreamSeq || got.Reason != want.Reason || string(got.Data) != string(want.Data) {
		t.Errorf("dead letter = %+v, want %+v", got, want)
	}
	if n := len(h.deliveries()); n != 2 {
		t.Errorf("deliveries = %d, want 2", n)
	}
	if n := counterValue(t, in.metrics.maxDeliveries); n != 1 {
		t.Errorf("max deliveries metric = %v, want 1", n)
	}
}

func TestIntakeSetupKeepsExistingStream(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), testPatience)
	defer cancel()
	existing := jetstream.StreamConfig{
		Name:     "ROOM_EVENTS",
		Subjects: []string{"rooms.events.>", "other.>"},
		Storage:  jetstream.MemoryStorage,
	}
	if _, err := js.CreateStream(ctx, existing); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	cfg := testConfig()
	cfg.MaxDeliver = 5
	cfg.BackOff = []time.Duration{time.Second, 10 * time.Second}
	in := newIntake(t, js, cfg, &recorder{}, nil)
	if err := in.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	st, err := js.Stream(ctx, "ROOM_EVENTS")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if got := st.CachedInfo().Config; got.Storage != jetstream.MemoryStorage || len(got.Subjects) != 2 {
		t.Errorf("stream config changed to %+v", got)
	}
	info := consumerInfo(t, js, cfg)
	wantBackOff := []time.Duration{2 * time.Second, 10 * time.Second}
	if c := info.Config; !slices.Equal(c.FilterSubjects, cfg.Subjects) || c.AckPolicy != jetstream.AckExplicitPolicy ||
		c.MaxDeliver != 5 || !slices.Equal(c.BackOff, wantBackOff) || c.AckWait != 2*time.Second {
		t.Errorf("consumer config = filter %v ack %v max deliver %d backoff %v ack wait %s; want filter %v explicit 5 %v 2s",
			c.FilterSubjects, c.AckPolicy, c.MaxDeliver, c.BackOff, c.AckWait, cfg.Subjects, wantBackOff)
	}
	if err := in.Ready(); err == nil {
		t.Error("Ready() = nil before Run, want an error")
	}
}

func TestIntakeSetupCreatesStream(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), testPatience)
	defer cancel()
	cfg := testConfig()
	cfg.MaxAge = 36 * time.Hour
	in := newIntake(t, js, cfg, &recorder{}, nil)
	if err := in.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	st, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	c := st.CachedInfo().Config
	if c.Storage != jetstream.FileStorage || c.Duplicates != 2*time.Minute || !slices.Equal(c.Subjects, cfg.Subjects) {
		t.Errorf("created stream = storage %v duplicates %s subjects %v", c.Storage, c.Duplicates, c.Subjects)
	}
	if c.MaxAge != cfg.MaxAge {
		t.Errorf("created stream max age = %s, want %s", c.MaxAge, cfg.MaxAge)
	}
	if f := consumerInfo(t, js, cfg).Config.FilterSubjects; len(f) != 0 {
		t.Errorf("filter subjects on our own stream = %v, want none", f)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no stream", func(c *Config) { c.Stream = "" }},
		{"no subjects", func(c *Config) { c.Subjects = nil }},
		{"no durable", func(c *Config) { c.Durable = "" }},
		{"backoff as long as max deliver", func(c *Config) {
			c.MaxDeliver = 2
			c.BackOff = []time.Duration{time.Second, time.Minute}
		}},
		{"negative backoff", func(c *Config) { c.BackOff = []time.Duration{-time.Second} }},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.change(&cfg)
			cfg.JetStream, cfg.Handler = js, &recorder{}
			if _, err := New(cfg); err == nil {
				t.Error("New() error = nil, want an error")
			}
		})
	}
	cfg := testConfig()
	cfg.JetStream, cfg.Handler = js, &recorder{}
	if _, err := New(cfg); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
	if _, err := New(testConfig()); err == nil {
		t.Error("New without jetstream and handler: error = nil, want an error")
	}
}

func TestNewRegistersMetricsOnce(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	reg := prometheus.NewRegistry()
	newIntake(t, js, testConfig(), &recorder{}, reg)
	cfg := testConfig()
	cfg.JetStream, cfg.Handler, cfg.Registerer = js, &recorder{}, reg
	_, err := New(cfg)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Errorf("second New on the same registry = %v, want AlreadyRegisteredError", err)
	}
}

// ackOnRelease is a deferred result that acks once release is closed,
// and leaves the message if the intake stops first.
func ackOnRelease(release <-chan struct{}) engine.Result {
	return engine.Result{Wait: func(ctx context.Context) engine.Result {
		select {
		case <-release:
			return engine.Result{Verdict: engine.Ack}
		case <-ctx.Done():
			return engine.Result{Verdict: engine.Leave}
		}
	}}
}

// TestIntakeDeferredResult: a handler that defers its verdict (Result.Wait)
// frees its worker at once, so one worker handles every message while the
// first is still waiting; the waiting messages are kept alive past
// AckWait and acknowledged once their Wait returns.
func TestIntakeDeferredResult(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	js := connect(t, s)
	cfg := testConfig()
	cfg.Concurrency = 1
	cfg.AckWait = slowAckWait
	release := make(chan struct{})
	h := &recorder{decide: func(context.Context, engine.Delivery) engine.Result {
		return ackOnRelease(release)
	}}
	runIntake(t, js, cfg, h)
	const n = 3
	publish(t, js, n)
	waitFor(t, "every message handled by the one worker", func() bool { return len(h.deliveries()) == n })
	time.Sleep(2 * cfg.AckWait) // the deferred messages outlive AckWait: without InProgress, redelivered
	close(release)
	waitSettled(t, js, cfg)
	if info := consumerInfo(t, js, cfg); info.NumRedelivered != 0 || info.Delivered.Consumer != n {
		t.Errorf("consumer delivered %d, redelivered %d; want %d and 0", info.Delivered.Consumer, info.NumRedelivered, n)
	}
}
