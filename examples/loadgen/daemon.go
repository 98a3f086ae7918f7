package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// daemon is a roomwarden process started from its binary with a
// generated config: dry run, the generated rules, the given NATS server.
type daemon struct {
	cmd       *exec.Cmd
	dir       string
	actionLog string
	httpAddr  string
	done      chan struct{} // closed once the process has exited
	waitErr   error         // its exit status, set before done is closed
}

const daemonConfig = `nats:
  url: %q
  stream: ROOM_EVENTS
  subjects: ["rooms.events.>"]
  durable: roomwarden
%srules:
  dir: %q
roomengine:
  sdkappid: 1400000000
dry_run: true
action_log:
  path: %q
http:
  listen: %q
  pprof: true
`

// daemonFlags are the flags of the commands that start a daemon.
type daemonFlags struct {
	natsURL, daemon, work          string
	rules, matchEvery, concurrency int
	win                            windowFlags
	state                          string // a -state workload, or none
}

// register adds the flags to fs; daemonHelp describes -daemon.
func (f *daemonFlags) register(fs *flag.FlagSet, natsHelp, daemonHelp string) {
	fs.StringVar(&f.natsURL, "nats", "nats://127.0.0.1:4222", natsHelp)
	fs.StringVar(&f.daemon, "daemon", "./bin/roomwarden", daemonHelp)
	fs.StringVar(&f.work, "work", os.TempDir(), "where to create the daemon's rules, config and action log")
	fs.IntVar(&f.rules, "rules", 100, "rules loaded")
	fs.IntVar(&f.concurrency, "concurrency", 0, "the daemon's nats.consumer.concurrency (0: its default)")
	fs.IntVar(&f.matchEvery, "match-every", 100, "one event in this many matches a rule")
	fs.StringVar(&f.state, "state", "", "a workload in which every event touches the state bucket: "+
		"window (a report about one of -window-keys rooms, feeding a window keyed by room; one in -match-every also acts), "+
		"cooldown (matching a rule with a cooldown, in a room of its own); empty: the plain workload, or -windows")
	f.win.register(fs)
}

// newDaemonFlagSet returns the flag set of a command that starts a
// daemon and gives up after -timeout: the daemon's flags are parsed
// into f, -timeout (by default def) into timeout.
func newDaemonFlagSet(name string, f *daemonFlags, timeout *time.Duration, def time.Duration) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f.register(fs, "NATS server URL (a real nats-server, not the daemon's embedded one)", "the roomwarden binary")
	fs.DurationVar(timeout, "timeout", def, "give up after this long")
	return fs
}

// spec is the daemon these flags describe.
func (f *daemonFlags) spec() daemonSpec {
	return daemonSpec{bin: f.daemon, work: f.work, natsURL: f.natsURL, rules: f.rulesYAML(), concurrency: f.concurrency}
}

// start starts the daemon these flags describe.
func (f *daemonFlags) start() (*daemon, error) { return startDaemon(f.spec()) }

// daemonSpec is a daemon to start: its binary, where it works, its NATS
// server, its rules file, and its nats.consumer.concurrency (0: the
// daemon's default).
type daemonSpec struct {
	bin, work, natsURL string
	rules              []byte
	concurrency        int
}

// startDaemon writes the spec's rules and a config into a new directory
// under its work directory, and starts the binary with it. The daemon's
// log goes to stderr.log there.
func startDaemon(spec daemonSpec) (*daemon, error) {
	dir, err := os.MkdirTemp(spec.work, "roomwarden-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	if _, err := writeRulesFile(filepath.Join(dir, "rules"), spec.rules); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	d := &daemon{dir: dir, actionLog: filepath.Join(dir, "actions.jsonl"), httpAddr: addr, done: make(chan struct{})}
	consumer := "" // the daemon's own default
	if spec.concurrency > 0 {
		consumer = fmt.Sprintf("  consumer: {concurrency: %d}\n", spec.concurrency)
	}
	cfg := fmt.Sprintf(daemonConfig, spec.natsURL, consumer, filepath.Join(dir, "rules"), d.actionLog, addr)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	d.cmd = exec.Command(spec.bin, "run", "--config", cfgPath)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	if err := d.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", spec.bin, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		logFile.Close()
		close(d.done)
	}()
	return d, nil
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls /readyz until the daemon answers 200.
func (d *daemon) waitReady(ctx context.Context) error {
	url := "http://" + d.httpAddr + "/readyz"
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("daemon exited before it was ready (%v); see %s", d.waitErr, filepath.Join(d.dir, "stderr.log"))
		case <-ctx.Done():
			return fmt.Errorf("daemon not ready: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits for the daemon to exit.
func (d *daemon) stop() error {
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop daemon: %w", err)
	}
	select {
	case <-d.done:
		if d.waitErr != nil {
			return fmt.Errorf("daemon exit: %w", d.waitErr)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		return errors.New("daemon did not stop within 30s; killed")
	}
}
