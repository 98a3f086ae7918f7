package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/decode"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// RuleSource yields the rule set currently in force (a rules.Watcher).
type RuleSource interface {
	Current() *rules.Set
}

// Submitter runs actions and reports each one's terminal outcome (the
// executor). done's error means the action reached no terminal outcome:
// ErrNotWanted if its Still hook said so before a call.
type Submitter interface {
	Submit(ctx context.Context, a Action, done func(Outcome, error)) error
}

// PipelineConfig configures a Pipeline: what it reads from and writes
// to, and how. Rules, Cooldowns, Executor, Recorder and DeadLetters are
// required; zero values of the rest take the defaults.
type PipelineConfig struct {
	Rules       RuleSource
	Store       state.Store // cooldowns, windows, labels, locks, overrides, budgets: outlive rule reloads
	Executor    Submitter
	Recorder    Recorder
	DeadLetters EventDeadLetterSink // malformed events

	// Shadow, if set, is a candidate rule set evaluated beside Rules on
	// every event: its actions are logged with outcome shadow and never
	// run, and its windows, cooldowns and budgets live in ShadowStore,
	// apart from the live ones (KV lists are read from Store).
	Shadow      RuleSource
	ShadowStore state.Store

	DryRun       bool          // route every action to the dry-run sink
	Identifier   string        // roomengine.identifier: its seat changes are not overrides
	OverrideHold time.Duration // overrides.hold; default 30m
	NakDelay     time.Duration // redelivery delay when an outcome or state was unavailable; default 5s
	Now          func() time.Time

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

func (c PipelineConfig) withDefaults() (PipelineConfig, error) {
	if c.Rules == nil || c.Store == nil || c.Executor == nil || c.Recorder == nil || c.DeadLetters == nil {
		return c, errors.New("pipeline: rules, store, executor, recorder and dead-letter sink are required")
	}
	if (c.Shadow == nil) != (c.ShadowStore == nil) {
		return c, errors.New("pipeline: shadow rules and their store go together")
	}
	c.NakDelay = cmp.Or(c.NakDelay, 5*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Pipeline is the MessageHandler at the heart of the daemon: decode,
// decide, execute, record, and only then acknowledge.
type Pipeline struct {
	cfg     PipelineConfig
	log     *slog.Logger
	metrics *pipelineMetrics
	scratch sync.Pool // *scratch
	feeders sync.Pool // *rules.Evaluator, feeding windows with roomwarden's own actions
	trips   tripLog
}

var _ MessageHandler = (*Pipeline)(nil)

// scratch holds per-goroutine buffers and the deciders (VMs are not
// safe for concurrent use, so each in-flight handler borrows them).
type scratch struct {
	decider   *Decider
	shadow    *Decider
	events    []rules.Event
	decisions []Decision
	actions   []pending
}

// NewPipeline checks cfg and returns a Pipeline.
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newPipelineMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p := &Pipeline{cfg: cfg, log: cfg.Logger.With("component", "pipeline"), metrics: m}
	dc := DeciderConfig{Store: cfg.Store, DryRun: cfg.DryRun, Identifier: cfg.Identifier, OverrideHold: cfg.OverrideHold}
	sc := dc
	sc.Store, sc.Shadow = shadowStore{cfg.ShadowStore, cfg.Store}, true
	p.scratch.New = func() any { return &scratch{decider: NewDecider(dc), shadow: NewDecider(sc)} }
	p.feeders.New = func() any { return rules.NewEvaluator() }
	return p, nil
}

// HandleMessage implements MessageHandler.
func (p *Pipeline) HandleMessage(ctx context.Context, d Delivery) Result {
	p.metrics.received.Inc()
	s := p.scratch.Get().(*scratch)
	defer p.scratch.Put(s)

	var err error
	s.events, err = decode.Events(d.Data, s.events[:0])
	if err != nil {
		return p.malformed(ctx, d, err)
	}
	p.metrics.decoded.Add(float64(len(s.events)))
	var b batch
	b.actions = s.actions[:0]
	for i := range s.events {
		ev := &s.events[i]
		FillIdentity(ev, d, i, len(s.events))
		if err := p.decide(ctx, s, ev, Origin(d, i), &b); err != nil {
			return p.stateUnavailable(d, err)
		}
	}
	if d.NumDelivered <= 1 && !d.Published.IsZero() {
		p.metrics.decisionLag.Observe(p.cfg.Now().Sub(d.Published).Seconds())
	}
	s.actions = b.actions[:0]
	if len(b.actions) == 0 && len(b.decided) == 0 {
		return Result{Verdict: Ack}
	}
	r := p.execute(ctx, &b)
	// The pooled scratch must not keep the actions' rule sets alive
	// after a reload; execute copied what it needs.
	clear(b.actions)
	return r
}

// FillIdentity gives the i-th of the n events decoded from d, if it has
// no id or time, the delivery's: the Nats-Msg-Id header, else
// seq-<stream sequence> (with #i when the message held several), and
// the time the stream stored it.
func FillIdentity(ev *rules.Event, d Delivery, i, n int) {
	if ev.ID == "" {
		id := d.MsgID
		if id == "" {
			id = "seq-" + strconv.FormatUint(d.StreamSeq, 10)
		}
		if n > 1 {
			id += "#" + strconv.Itoa(i)
		}
		ev.ID = id
	}
	if ev.Time.IsZero() {
		ev.Time = d.Published
	}
}

// Origin identifies the i-th event of one stored message: the same for
// every delivery of that message, different for another message that
// reuses its event id. It is the origin Decider.Decide takes.
func Origin(d Delivery, i int) string {
	return strconv.FormatUint(d.StreamSeq, 10) + "#" + strconv.Itoa(i)
}

// decide runs the rules (and the shadow rules) on one event and collects
// what they ask for.
func (p *Pipeline) decide(ctx context.Context, s *scratch, ev *rules.Event, origin string, b *batch) error {
	set := p.cfg.Rules.Current()
	if set == nil {
		return nil
	}
	now := p.cfg.Now()
	var err error
	if s.decisions, err = s.decider.Decide(ctx, set, ev, origin, now, s.decisions[:0]); err != nil {
		return err
	}
	p.metrics.observeEvaluated(set, ev.Type, s.decider.Ran())
	p.observe(s.decider, ev)
	for _, dec := range s.decisions {
		if dec.Outcome != "" {
			b.decided = append(b.decided, decided(dec, now))
			continue
		}
		b.actions = append(b.actions, pending{a: dec.Action, ev: *ev, set: set})
	}
	return p.decideShadow(ctx, s, ev, origin, now, b)
}

// decideShadow runs the shadow rules, if any: their would-be actions are
// outcomes of their own, never run.
func (p *Pipeline) decideShadow(ctx context.Context, s *scratch, ev *rules.Event, origin string, now time.Time, b *batch) error {
	if p.cfg.Shadow == nil {
		return nil
	}
	set := p.cfg.Shadow.Current()
	if set == nil {
		return nil
	}
	var err error
	if s.decisions, err = s.shadow.Decide(ctx, set, ev, origin, now, s.decisions[:0]); err != nil {
		return fmt.Errorf("shadow rules: %w", err)
	}
	for _, m := range s.shadow.Matched() {
		if m.Err != nil {
			p.log.Debug("shadow rule failed at runtime", "rule", m.Rule.Name, "event_id", ev.ID, "err", m.Err)
		}
	}
	for _, dec := range s.decisions {
		if dec.Outcome == Shadow {
			p.metrics.shadowAction(dec.Rule.Name)
			b.decided = append(b.decided, decided(dec, now))
		}
	}
	return nil
}

// observe counts and logs what the last decision noticed: rule matches
// and runtime errors, window errors, moderators' overrides, trips.
func (p *Pipeline) observe(d *Decider, ev *rules.Event) {
	for _, m := range d.Matched() {
		if m.Err != nil {
			p.metrics.ruleError(m.Rule.Name)
			p.log.Warn("rule failed at runtime", "rule", m.Rule.Name, "file", m.Rule.File,
				"event_id", ev.ID, "err", m.Err)
			continue
		}
		p.metrics.ruleMatch(m.Rule.Name)
	}
	for _, err := range d.WindowErrors() {
		p.metrics.windowErrors.Inc()
		p.log.Warn("window failed at runtime; the event was not counted in it", "event_id", ev.ID, "err", err)
	}
	for _, f := range d.Overrides() {
		p.metrics.overrides.Inc()
		p.log.Info("moderator override: roomwarden lets go of the seat flag", "room_id", f.RoomID, "index", f.Index,
			"flag", f.Flag, "operator", ev.Attrs["operator"], "hold", p.cfg.OverrideHold, "event_id", ev.ID)
	}
	for _, r := range d.Tripped() {
		if p.trips.first(r.Name, p.cfg.Now()) {
			p.log.Error("rule tripped: its budget is spent; its actions are logged as tripped and not sent until it is reset",
				"rule", r.Name, "max", r.Budget.Max, "per", r.Budget.Per, "reset", "POST /rules/"+r.Name+"/reset")
		}
	}
}

// runLabel adds a label action's member to its list.
func (p *Pipeline) runLabel(ctx context.Context, a Action) (Outcome, error) {
	o := Outcome{Time: p.cfg.Now(), Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Label: a.Label, Attempts: 1}
	if a.For > 0 {
		o.For = a.For.String()
	}
	if a.DryRun {
		o.Outcome = DryRun
		return o, nil
	}
	if err := p.cfg.Store.AddMember(ctx, a.Label.Bucket, a.Label.Member, o.Time, a.For); err != nil {
		p.metrics.stateUnavailable.Inc()
		return o, fmt.Errorf("label %s: %w", a.Label.List, err)
	}
	o.Outcome = Succeeded
	return o, nil
}

// stateUnavailable gives back an event whose decision needed state the
// store could not provide: acting without it could act wrongly (a
// cooldown or a count missed), so the event waits for the store.
func (p *Pipeline) stateUnavailable(d Delivery, err error) Result {
	p.metrics.stateUnavailable.Inc()
	p.log.Warn("state store unavailable; the event will be redelivered", "subject", d.Subject,
		"stream_seq", d.StreamSeq, "err", err)
	return Result{Verdict: Nak, Delay: p.cfg.NakDelay, Reason: "state: " + err.Error()}
}

// decided is the outcome of an action decided without running it.
func decided(dec Decision, now time.Time) Outcome {
	a := dec.Action
	o := Outcome{Time: now, Rule: a.Rule, EventID: a.EventID, Action: a.Kind,
		Params: a.Params, Label: a.Label, Outcome: dec.Outcome, ErrorInfo: dec.Info}
	if a.For > 0 {
		o.For = a.For.String()
	}
	return o
}

// execute submits a delivery's actions and returns a deferred Result:
// the intake's worker moves on while the actions run, and the verdict
// comes once every outcome is in: Ack only when every action is terminal
// and on file. The outcomes are recorded as they arrive, from the first
// on, also while later actions of the event still wait in Submit for
// room in a full executor queue.
func (p *Pipeline) execute(ctx context.Context, b *batch) Result {
	decided := b.decided
	if len(b.actions) == 0 {
		// Nothing to wait for: the outcomes decided (suppressed, dry
		// run...) are recorded here, without a goroutine.
		submitted := make(chan submission, 1)
		submitted <- submission{}
		return p.await(ctx, nil, submitted, decided)
	}
	// Buffered for every action, so the executor's callbacks never block,
	// even after a shutdown made us stop waiting.
	results := make(chan result, len(b.actions))
	submitted := make(chan submission, 1)
	verdict := make(chan Result, 1)
	go func() { verdict <- p.await(ctx, results, submitted, decided) }()
	var notTerminal error
	pending := 0
	for _, pa := range b.actions {
		// What a successful action did is written before done returns:
		// the executor starts the seat's next call only then, so an
		// unlock that comes next sees this lock (its Still hook).
		done := func(o Outcome, err error) {
			if err == nil {
				err = p.afterOutcome(ctx, pa, o)
			}
			results <- result{o, err}
		}
		if pa.a.Kind == ActionLabel {
			done(p.runLabel(ctx, pa.a))
			pending++
			continue
		}
		if err := p.cfg.Executor.Submit(ctx, pa.a, done); err != nil {
			notTerminal = fmt.Errorf("submit %s for rule %s: %w", pa.a.Kind, pa.a.Rule, err)
			break
		}
		pending++
	}
	submitted <- submission{pending: pending, err: notTerminal}
	// await returns once every submitted action has reported, or ctx (the
	// intake's, the same one Wait is given) is done.
	return Result{Wait: func(context.Context) Result { return <-verdict }}
}

// submission is what execute's loop tells await once it has ended: how
// many actions were submitted, and why it stopped early, if it did.
type submission struct {
	pending int
	err     error
}

// await records each outcome as it arrives, so the action log shows
// progress while a large event's actions run, and decides once all are
// in: Ack only when every action is terminal and on file.
func (p *Pipeline) await(ctx context.Context, results <-chan result, submitted <-chan submission, decided []Outcome) Result {
	var rec recording
	for _, o := range decided {
		rec.record(p, o)
	}
	var notTerminal error
	for got, want := 0, -1; want < 0 || got < want; {
		select {
		case sub := <-submitted:
			want, submitted = sub.pending, nil
			if sub.err != nil {
				notTerminal = sub.err
			}
		case r := <-results:
			got++
			if r.err != nil { // no terminal outcome, or what it did not written
				notTerminal = r.err
				continue
			}
			rec.record(p, r.o)
		case <-ctx.Done():
			return Result{Verdict: Leave, Reason: "shutting down with actions in flight"}
		}
	}
	if rec.err != nil {
		return Result{Verdict: Nak, Delay: p.cfg.NakDelay, Reason: "action log: " + rec.err.Error()}
	}
	if notTerminal != nil {
		if ctx.Err() != nil {
			return Result{Verdict: Leave, Reason: notTerminal.Error()}
		}
		return Result{Verdict: Nak, Delay: p.cfg.NakDelay, Reason: notTerminal.Error()}
	}
	return Result{Verdict: Ack}
}

// afterOutcome remembers what a successful action did: the flags a
// lock_seat holds, until its end if it has one (scheduling the undo),
// and the action itself in the windows that count roomwarden's own
// actions. If that cannot be written the event is redelivered, and the
// action (idempotent) run again, rather than leave a timed lock without
// its undo or an offence uncounted.
func (p *Pipeline) afterOutcome(ctx context.Context, pa pending, o Outcome) error {
	if o.Outcome != Succeeded {
		return nil
	}
	if pa.a.Kind == ActionLockSeat {
		for _, f := range pa.a.Params.SetFlags() {
			l := state.Lock{SeatFlag: state.SeatFlag{RoomID: pa.a.Params.RoomID, Index: pa.a.Params.Index, Flag: f},
				Rule: pa.a.Rule, EventID: pa.a.EventID, At: o.Time, End: lockEnd(o.Time, pa.a.For)}
			if _, err := p.cfg.Store.Locked(ctx, l); err != nil {
				p.metrics.stateUnavailable.Inc()
				return fmt.Errorf("record the lock of %s: %w", f, err)
			}
		}
	}
	return p.feedOwnAction(ctx, pa, o)
}

// feedOwnAction feeds the windows that listen for roomwarden's own
// actions (event type EventOwnAction) with the event that asked for it.
func (p *Pipeline) feedOwnAction(ctx context.Context, pa pending, o Outcome) error {
	if len(pa.set.WindowsFor(EventOwnAction)) == 0 {
		return nil
	}
	eval := p.feeders.Get().(*rules.Evaluator)
	defer p.feeders.Put(eval)
	errs, err := FeedOwnAction(ctx, p.cfg.Store, eval, pa.set, pa.ev, pa.a, o.Time)
	for _, werr := range errs {
		p.metrics.windowErrors.Inc()
		p.log.Warn("window failed at runtime on roomwarden's own action; not counted in it", "event_id", pa.ev.ID, "err", werr)
	}
	return err
}

// recording writes one event's outcomes to the action log until a write
// fails: the event is then redelivered, since an unrecorded outcome must
// not be acknowledged, and the rest are not written (they will be when
// it comes back).
type recording struct{ err error }

func (r *recording) record(p *Pipeline, o Outcome) {
	if r.err != nil {
		return
	}
	if err := p.cfg.Recorder.Record(o); err != nil {
		p.metrics.recordErrors.Inc()
		r.err = err
		return
	}
	p.metrics.action(o)
}

// malformed dead-letters an undecodable delivery and terminates it; if
// the dead letter cannot be written it is redelivered instead of lost.
func (p *Pipeline) malformed(ctx context.Context, d Delivery, err error) Result {
	p.metrics.malformed.Inc()
	reason := err.Error()
	p.log.Warn("malformed event", "subject", d.Subject, "stream_seq", d.StreamSeq, "reason", reason)
	m := Malformed{Subject: d.Subject, StreamSeq: d.StreamSeq, Reason: reason, Data: d.Data}
	if dlqErr := p.cfg.DeadLetters.DeadLetterEvent(ctx, m); dlqErr != nil {
		p.log.Error("dead-letter malformed event", "stream_seq", d.StreamSeq, "err", dlqErr)
		return Result{Verdict: Nak, Delay: p.cfg.NakDelay, Reason: "dead letter: " + dlqErr.Error()}
	}
	return Result{Verdict: Term, Reason: reason}
}

// batch is what one delivery's events asked for.
type batch struct {
	actions []pending
	decided []Outcome // terminal without running (cooldown, override, budget, shadow...)
}

type result struct {
	o   Outcome
	err error
}

// pending is an action to run, with the event and rule set that asked
// for it (windows fed by roomwarden's own actions read them).
type pending struct {
	a   Action
	ev  rules.Event
	set *rules.Set
}
