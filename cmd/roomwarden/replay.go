package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine/offline"
	"github.com/roomwarden/roomwarden/engine/replay"
	"github.com/roomwarden/roomwarden/rules"
)

const replayUsage = `usage: roomwarden replay [--config FILE] [--rules DIR] [--baseline DIR]
                         [--since 24h | --from RFC3339] [--until RFC3339]
                         [--labels FILE] [--json]

Runs the history of the daemon's stream (nats.* in the config) through
the rules, each event on its own time, with windows, cooldowns and
budgets in memory starting empty. It reads through an ordered consumer
of its own (the daemon's durable is never touched), sends nothing, and
writes no action log. It prints, per rule: the events it matched, the
actions it would have run, and those its cooldown held back. With
--baseline, the baseline set runs beside it and the table adds its
actions and the events that act in one set only; with --labels (JSON
lines {"event_id": "…", "label": "abusive" | "benign"}), precision and
recall. Ctrl-C stops it and prints what was replayed so far.

Exit status: 0 done; 1 rules with errors, a stream that cannot be read,
or no event in the range; 2 bad flags, config or labels; 130 stopped.
`

// replayFlags are the command line of `roomwarden replay`.
type replayFlags struct {
	config, rules, baseline, labels string
	since                           time.Duration
	from, until                     string
	json                            bool
}

// runReplay is `roomwarden replay`.
func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("replay", replayUsage)
	var f replayFlags
	f.register(fs)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "roomwarden replay: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg, rc, err := f.setup(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden replay: %v\n", err)
		return 2
	}
	if code, ok := loadReplayRules(&rc, cmp.Or(f.rules, cfg.Rules.Dir), f.baseline, stderr); !ok {
		return code
	}
	return replayStream(cfg, rc, f.json, stdout, stderr)
}

// setup reads what the flags name, but the rules: the range (now being
// the time of the command), the config and the labels.
func (f *replayFlags) setup(now time.Time) (*app.Config, replay.Config, error) {
	var rc replay.Config
	rg, err := f.timeRange(now)
	if err != nil {
		return nil, rc, err
	}
	cfg, err := loadReplayConfig(f.config)
	if err != nil {
		return nil, rc, err
	}
	rc = replay.Config{Range: rg, World: offline.Config{Identifier: cfg.RoomEngine.Identifier,
		OverrideHold: cfg.Overrides.Hold.Duration(), MaxCooldowns: cfg.Cooldowns.MaxKeys}}
	if f.labels != "" {
		if rc.Labels, err = replay.LoadLabels(f.labels); err != nil {
			return nil, rc, err
		}
	}
	return cfg, rc, nil
}

func (f *replayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "the daemon's config file (YAML); empty: built-in defaults")
	fs.StringVar(&f.rules, "rules", "", "the candidate rules directory (default: the config's rules.dir)")
	fs.StringVar(&f.baseline, "baseline", "", "a baseline rules directory to compare with")
	fs.DurationVar(&f.since, "since", 0, "replay the last DURATION (such as 90m or 24h)")
	fs.StringVar(&f.from, "from", "", "replay from this time (RFC 3339, such as 2026-11-25T21:00:00Z)")
	fs.StringVar(&f.until, "until", "", "replay until this time (RFC 3339; default: the stream's last message)")
	fs.StringVar(&f.labels, "labels", "", `labelled events, JSON lines {"event_id": "…", "label": "abusive" | "benign"}`)
	fs.BoolVar(&f.json, "json", false, "print one JSON document")
}

// timeRange reads --since, --from and --until, now being the time of
// the command.
func (f *replayFlags) timeRange(now time.Time) (replay.Range, error) {
	var rg replay.Range
	var err error
	switch {
	case f.since != 0 && f.from != "":
		return rg, errors.New("--since and --from both say where to start: give one")
	case f.since < 0:
		return rg, fmt.Errorf("--since %s: want a positive duration, such as 24h", f.since)
	case f.since > 0:
		rg.From = now.Add(-f.since)
	case f.from != "":
		if rg.From, err = time.Parse(time.RFC3339Nano, f.from); err != nil {
			return rg, fmt.Errorf("--from %q: want an RFC 3339 time, such as 2026-11-25T21:00:00Z", f.from)
		}
	}
	if f.until != "" {
		if rg.Until, err = time.Parse(time.RFC3339Nano, f.until); err != nil {
			return rg, fmt.Errorf("--until %q: want an RFC 3339 time, such as 2026-11-26T21:00:00Z", f.until)
		}
		if !rg.From.IsZero() && rg.Until.Before(rg.From) {
			return rg, fmt.Errorf("--until %s is before the start, %s", f.until, rg.From.UTC().Format(time.RFC3339))
		}
	}
	return rg, nil
}

func loadReplayConfig(path string) (*app.Config, error) {
	if path == "" {
		return app.Default(), nil
	}
	return app.LoadConfig(path)
}

// loadReplayRules loads the candidate and baseline sets, printing their
// errors as check does.
func loadReplayRules(rc *replay.Config, candidate, baseline string, stderr io.Writer) (int, bool) {
	var err error
	if rc.Candidate, err = loadRuleDir(candidate, stderr); err != nil {
		return 1, false
	}
	if baseline != "" {
		if rc.Baseline, err = loadRuleDir(baseline, stderr); err != nil {
			return 1, false
		}
	}
	return 0, true
}

func loadRuleDir(dir string, stderr io.Writer) (*rules.Set, error) {
	if err := requireRuleFiles([]string{dir}); err != nil {
		fmt.Fprintln(stderr, err)
		return nil, err
	}
	set, err := rules.Load(dir)
	if err != nil {
		printErrors(stderr, err)
	}
	return set, err
}

// replayStream connects to the daemon's NATS server, replays, and
// prints the report.
func replayStream(cfg *app.Config, rc replay.Config, asJSON bool, stdout, stderr io.Writer) int {
	url, err := cfg.ReplayURL()
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden replay: %v\n", err)
		return 2
	}
	o := cfg.NATSOptions()
	o.URL, o.Name = url, "roomwarden-replay"
	nc, err := app.DialNATS(o)
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden replay: %v\n", err)
		if cfg.NATS.URL == "" {
			fmt.Fprintln(stderr, "hint: nats.url is empty, so replay reads from the embedded server of a running `roomwarden run`"+
				" with this config; start it, or set nats.url")
		}
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden replay: jetstream: %v\n", err)
		return 1
	}
	rc.Source = replay.Source{JS: js, Stream: cfg.NATS.Stream, Subjects: cfg.NATS.Subjects}
	bar := newProgressBar(stderr)
	if bar != nil {
		rc.Progress = bar.update
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := replay.Run(ctx, rc)
	bar.clear()
	return printReplay(rep, err, asJSON, stdout, stderr)
}

// printReplay prints the report (a partial one too) and chooses the
// exit status.
func printReplay(rep *replay.Report, err error, asJSON bool, stdout, stderr io.Writer) int {
	if rep == nil || (err != nil && !rep.Partial) {
		fmt.Fprintf(stderr, "roomwarden replay: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		_ = rep.WriteText(stdout)
	}
	switch {
	case rep.Partial:
		fmt.Fprintln(stderr, "roomwarden replay: stopped; the report covers the events replayed until then")
		return 130
	case rep.Events == 0:
		if asJSON {
			fmt.Fprintln(stderr, "roomwarden replay: no events in the range")
		}
		return 1
	}
	return 0
}
