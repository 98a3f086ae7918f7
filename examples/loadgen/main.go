// Command loadgen drives roomwarden's performance measurements (see
// docs/BENCHMARKS.md):
//
//	loadgen latency  -nats URL -daemon BIN -rate 10000 -for 30s
//	    start the daemon (100 rules, dry run) against the NATS server at URL,
//	    publish events at a set rate (0: as fast as possible), 1% of them
//	    matching a rule, and report the throughput and the publish-to-decision
//	    latency percentiles of the matching events, read from the actions the
//	    daemon publishes on roomwarden.actions.>
//	loadgen e2e      -nats URL -daemon BIN -n 200000
//	    pre-load n events into ROOM_EVENTS, start the daemon with 100 rules in
//	    dry run, and time until its consumer has acknowledged them all
//	loadgen e2e|latency ... -windows 10 -window-share 0.1
//	    the same with windows: 10 of the rules read windows (count and
//	    distinct, keyed by user or room, over a minute) that 10% of the
//	    events feed (benchtest.WindowWorkload)
//	loadgen e2e|latency ... -state window|cooldown
//	    the same with state in JetStream on every event: window, every
//	    event a report feeding a window keyed by room (one of
//	    -window-keys), one in -match-every also acted on; cooldown, every
//	    event matching a rule with a cooldown, in a room of its own (a
//	    dry-run action each); see workload.go
//	loadgen windowmem -nats URL -daemon BIN -keys 100000
//	    fill that many window keys through reports and read what they take
//	    in the state bucket and in the daemon's Go heap
//	loadgen mem      -nats URL -daemon BIN -rules 10000 -keys 1000000
//	    start the daemon with 10,000 rules (each cooling down for an hour),
//	    fill 1,000,000 cooldown keys through as many matching events, and
//	    read the daemon process's resident memory from /proc/<pid>/status
//	loadgen executor -rate 200 -actions 2000
//	    run a backlog of lock_seat actions through the executor and the Room
//	    Engine client against the (strict) simulator; report the rate achieved
//	    and the most calls the simulator saw in any rolling second
//	loadgen rules    -n 100 -out DIR
//	    write the generated rules file, for running the daemon by hand
//
// Every figure is printed as `name: value unit` lines, one per figure.
// e2e and latency report the daemon's state calls by kind, from its
// /metrics; e2e also the daemon's CPU time per event and the writes the
// state bucket took.
//
// The files: main.go the commands; daemon.go the daemon started from
// its binary and its flags; workload.go and windows.go the rules and
// events of each workload; stream.go the events stream and the state
// bucket; metrics.go and proc.go what is read of the daemon (its
// /metrics, its /proc entries); e2e.go, latency.go (with lag.go and
// plain.go), mem.go, windows.go (windowmem), executor.go and
// rulesfile.go one command each.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

const usage = `usage: loadgen <latency|e2e|mem|windowmem|executor|rules> [flags]  (loadgen <command> -h for flags)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	commands := map[string]func([]string, io.Writer, *slog.Logger) error{
		"latency":   runLatency,
		"e2e":       runE2E,
		"mem":       runMem,
		"windowmem": runWindowMem,
		"executor":  runExecutor,
		"rules":     runRules,
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "loadgen: unknown command %q\n%s", args[0], usage)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := cmd(args[1:], stdout, logger); err != nil {
		fmt.Fprintf(stderr, "loadgen %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// report prints one figure.
func report(w io.Writer, name string, value float64, unit string) {
	fmt.Fprintf(w, "%s: %.6g %s\n", name, value, unit)
}
