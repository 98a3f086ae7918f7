package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/decode"
	"github.com/roomwarden/roomwarden/engine/offline"
	"github.com/roomwarden/roomwarden/rules"
)

// Config is one replay. Source and Candidate are required.
type Config struct {
	Source Source
	// Range is the part of the history replayed. Its bounds apply twice:
	// the consumer reads the messages stored within them (stream time),
	// and of the events those hold, those whose own time is outside them
	// are counted in Report.Outside and not replayed.
	Range Range
	// Candidate is the rule set replayed; Baseline, if set, is replayed
	// beside it in the same pass, in a world of its own, for comparison.
	Candidate, Baseline *rules.Set
	// Labels, if set, score the candidate's rules.
	Labels Labels
	// World is how the offline worlds decide: the daemon's
	// roomengine.identifier, overrides.hold and cooldowns.max_keys.
	World offline.Config
	// Progress, if set, is called from the replaying goroutine at most
	// every ProgressEvery (default 200ms) while messages arrive, and
	// once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Progress is how far a replay has come.
type Progress struct {
	Messages uint64        // messages read
	Done     uint64        // stream sequences passed, of Total
	Total    uint64        // the stream sequences from the first message read to the last one at start
	Elapsed  time.Duration // since the first message
}

// Run replays cfg. When ctx ends first it returns the report of what
// was replayed until then, marked Partial, with ctx's error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Source.JS == nil || cfg.Candidate == nil {
		return nil, errors.New("replay: a stream and a candidate rule set are required")
	}
	bounds, cons, err := cfg.Source.open(ctx, cfg.Range)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	r := newReplayer(ctx, cfg, bounds)
	if cons != nil {
		err = cfg.Source.drain(ctx, cons, bounds.LastSeq, cfg.Range.Until, r.message)
	}
	r.progress.finish(err == nil)
	rep := r.report()
	switch {
	case err != nil && ctx.Err() != nil:
		rep.Partial = true
		return rep, ctx.Err()
	case err != nil:
		return rep, fmt.Errorf("replay: %w", err)
	}
	return rep, nil
}

// replayer decides the events of each message read.
type replayer struct {
	ctx        context.Context
	cfg        Config
	cand, base *offline.World
	tallies    *tallies
	events     []rules.Event
	rep        Report
	first      time.Time // the earliest event time replayed
	last       time.Time // the latest
	progress   progress
}

func newReplayer(ctx context.Context, cfg Config, b Bounds) *replayer {
	r := &replayer{ctx: ctx, cfg: cfg, cand: offline.New(cfg.World),
		tallies:  newTallies(cfg.Candidate, cfg.Baseline, cfg.Labels),
		rep:      Report{Stream: b, Baseline: cfg.Baseline != nil, Labeled: cfg.Labels != nil},
		progress: progress{fn: cfg.Progress, every: cfg.ProgressEvery, lastSeq: b.LastSeq}}
	if cfg.Baseline != nil {
		r.base = offline.New(cfg.World)
	}
	return r
}

// message replays the events of one stored message; one the decoder
// refuses is counted and skipped.
func (r *replayer) message(d engine.Delivery) error {
	r.progress.message(d.StreamSeq)
	var err error
	if r.events, err = decode.Events(d.Data, r.events[:0]); err != nil {
		if r.rep.Malformed++; r.rep.Malformed == 1 {
			r.rep.FirstMalformed = fmt.Sprintf("stream sequence %d (%s): %v", d.StreamSeq, d.Subject, err)
		}
		return nil
	}
	for i := range r.events {
		if err := r.event(&r.events[i], d, i); err != nil {
			return err
		}
	}
	return nil
}

// event replays the i-th event of d on its own time, in each set.
func (r *replayer) event(ev *rules.Event, d engine.Delivery, i int) error {
	engine.FillIdentity(ev, d, i, len(r.events))
	if r.outside(ev.Time) {
		r.rep.Outside++
		return nil
	}
	r.seen(ev.Time)
	origin := engine.Origin(d, i)
	step, err := r.cand.Decide(r.ctx, r.cfg.Candidate, ev, origin, ev.Time)
	if err != nil {
		return fmt.Errorf("event %s: %w", ev.ID, err)
	}
	r.rep.WindowErrors += len(step.WindowErrors)
	r.tallies.candidate(step)
	if r.base != nil {
		if step, err = r.base.Decide(r.ctx, r.cfg.Baseline, ev, origin, ev.Time); err != nil {
			return fmt.Errorf("event %s: baseline: %w", ev.ID, err)
		}
		r.tallies.baseline(step)
	}
	r.tallies.done(ev, r.base != nil)
	return nil
}

// outside reports whether an event time falls outside the range.
func (r *replayer) outside(t time.Time) bool {
	rg := r.cfg.Range
	return (!rg.From.IsZero() && t.Before(rg.From)) || (!rg.Until.IsZero() && t.After(rg.Until))
}

// seen counts a replayed event at t.
func (r *replayer) seen(t time.Time) {
	if r.rep.Events++; r.rep.Events == 1 || t.Before(r.first) {
		r.first = t
	}
	if t.After(r.last) {
		r.last = t
	}
}

// report is what was replayed so far.
func (r *replayer) report() *Report {
	rep := r.rep
	rep.From, rep.Until = r.cfg.Range.From, r.cfg.Range.Until
	if rep.From.IsZero() {
		rep.From = r.first
	}
	if rep.Until.IsZero() {
		rep.Until = r.last
	}
	rep.CooldownOverflows = int(r.cand.Store().CooldownTable().Overflows())
	rep.Rules = r.tallies.report(rep.Baseline, rep.Labeled)
	return &rep
}
