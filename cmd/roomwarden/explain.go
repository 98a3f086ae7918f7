package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/decode"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

const explainUsage = `usage: roomwarden explain [--rules DIR] [--json] [--list NAME=M1,M2] EVENT_FILE|-

For one event (canonical JSON or a Tencent callback, from a file or
stdin), says what every rule listening for its type would decide and
why: whether its condition held, the value of each sub-expression, the
windows it read and the verdict (act, no_match, suppressed, overridden,
tripped, error). It runs on an empty in-memory state: windows count this
event only, KV-backed lists hold the members given with --list. To ask
the running daemon on its live state, POST the event to /explain.
`

// runExplain is `roomwarden explain`.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", explainUsage)
	dir := fs.String("rules", "./examples/rules", "rules directory")
	asJSON := fs.Bool("json", false, "print one JSON document")
	lists := listFlag{}
	fs.Var(lists, "list", "members of a KV-backed list, NAME=M1,M2 (repeatable)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.SetOutput(stderr)
		fs.Usage()
		return 2
	}
	set, err := rules.Load(*dir)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	ev, err := readEvent(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden explain: %v\n", err)
		return 1
	}
	store := state.NewMemory(0)
	if err := seedLists(set, store, lists, ev.Time); err != nil {
		fmt.Fprintf(stderr, "roomwarden explain: %v\n", err)
		return 2
	}
	ex, err := engine.Explain(context.Background(), store, set, ev, ev.Time)
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden explain: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(ex)
		return 0
	}
	printExplanation(stdout, ex)
	return 0
}

// readEvent reads one event from path ("-": stdin), giving it an id and
// a time if it has none.
func readEvent(path string) (*rules.Event, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, decode.MaxEventBytes+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	evs, err := decode.Events(data, nil)
	switch {
	case err != nil:
		return nil, err
	case len(evs) != 1:
		return nil, fmt.Errorf("%s holds %d events (a callback listing several members); explain one at a time", path, len(evs))
	}
	ev := &evs[0]
	if ev.ID == "" {
		ev.ID = "explain"
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	return ev, nil
}

// listFlag collects --list NAME=M1,M2.
type listFlag map[string][]string

func (l listFlag) String() string { return "" }

func (l listFlag) Set(v string) error {
	name, members, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=M1,M2, got %q", v)
	}
	l[name] = append(l[name], strings.Split(members, ",")...)
	return nil
}

// seedLists puts the --list members into the KV-backed lists.
func seedLists(set *rules.Set, store *state.Memory, lists listFlag, now time.Time) error {
	for name, members := range lists {
		l := set.Lists()[name]
		if l == nil || l.Bucket == "" {
			return fmt.Errorf("--list %s: the rules have no KV-backed list %q", name, name)
		}
		for _, m := range members {
			_ = store.AddMember(context.Background(), l.Bucket, m, now, 0)
		}
	}
	return nil
}

// printExplanation writes an explanation for people.
func printExplanation(w io.Writer, ex engine.Explanation) {
	ev := ex.Event
	fmt.Fprintf(w, "event %s (%s) in %s at %s\n", ev.ID, ev.Type, ev.RoomID, ev.Time.UTC().Format(time.RFC3339))
	if len(ex.Rules) == 0 {
		fmt.Fprintf(w, "  no rule listens for %s events\n", ev.Type)
	}
	for _, r := range ex.Rules {
		fmt.Fprintf(w, "\n%s: %s", r.Rule, r.Verdict)
		if r.Why != "" {
			fmt.Fprintf(w, " (%s)", r.Why)
		}
		fmt.Fprintln(w)
		for _, k := range r.Order {
			v, _ := json.Marshal(r.Values[k])
			fmt.Fprintf(w, "  %s = %s\n", k, v)
		}
		for _, win := range r.Windows {
			fmt.Fprintf(w, "  window %s at %q: %d\n", win.Window, win.Key, win.Count)
		}
		for _, a := range r.Actions {
			p, _ := json.Marshal(a.Params)
			fmt.Fprintf(w, "  would %s %s", a.Action, p)
			if a.For != "" {
				fmt.Fprintf(w, " for %s", a.For)
			}
			fmt.Fprintln(w)
		}
	}
}
