package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/internal/benchtest"
	"github.com/roomwarden/roomwarden/internal/daemontest"
	"github.com/roomwarden/roomwarden/internal/procstat"
)

// clusterBenchEnv, set to 1, runs TestClusterThroughput (make
// cluster-bench): the figures of docs/SCALING.md.
const clusterBenchEnv = "ROOMWARDEN_CLUSTER_BENCH"

// TestClusterThroughput measures how many events per second 1, 2 and 3
// replicas take from the events stream on the three-node cluster, for
// three workloads (benchWorkloads), each run on a fresh cluster with the
// stream pre-loaded. Every workload runs in dry run, so that the Room
// Engine budget (200 calls/s at most) is not what is measured; what an
// action costs beyond its call is in the state writes, which dry run
// makes too (the cooldown) or which the workload makes on every event
// (the window).
//
// The replicas start on an empty stream; the events are loaded while
// their consumer is paused, and the clock runs from its resumption to
// the moment the last event is acknowledged. CPU seconds of each process
// class over the same span say where the time went. Knobs:
// ROOMWARDEN_CLUSTER_BENCH_EVENTS (default 100000), _RUNS (3),
// _WORKLOADS (dry,cooldown,window), _REPLICAS (1,2,3), _CONCURRENCY
// (nats.consumer.concurrency, default 64),
// ROOMWARDEN_CLUSTER_PROFILE=DIR (5 s CPU profiles of replica r1 and of
// each server per run, from /debug/pprof).
func TestClusterThroughput(t *testing.T) {
	if os.Getenv(clusterBenchEnv) != "1" {
		t.Skipf("set %s=1 to measure (make cluster-bench)", clusterBenchEnv)
	}
	events := envInt(t, "ROOMWARDEN_CLUSTER_BENCH_EVENTS", 100000)
	runs := envInt(t, "ROOMWARDEN_CLUSTER_BENCH_RUNS", 3)
	concurrency := envInt(t, "ROOMWARDEN_CLUSTER_BENCH_CONCURRENCY", app.Default().NATS.Consumer.Concurrency)
	workloads := strings.Split(envOr("ROOMWARDEN_CLUSTER_BENCH_WORKLOADS", "dry,cooldown,window"), ",")
	var replicaCounts []int
	for _, s := range strings.Split(envOr("ROOMWARDEN_CLUSTER_BENCH_REPLICAS", "1,2,3"), ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > clusterSize {
			t.Fatalf("ROOMWARDEN_CLUSTER_BENCH_REPLICAS: %q: want 1 to %d", s, clusterSize)
		}
		replicaCounts = append(replicaCounts, n)
	}
	// Runs interleave the replica counts, so that each count sees the
	// same moments of a machine shared with other work.
	for _, w := range workloads {
		rates := map[int][]float64{}
		for run := range runs {
			for _, k := range replicaCounts {
				t.Run(fmt.Sprintf("%s/run=%d/replicas=%d", w, run+1, k), func(t *testing.T) {
					rates[k] = append(rates[k], benchCluster(t, w, k, events, concurrency))
				})
			}
		}
		for _, k := range replicaCounts {
			r := slices.Sorted(slices.Values(rates[k]))
			if len(r) > 0 {
				t.Logf("SCALING workload=%s replicas=%d concurrency=%d events=%d median_events_per_s=%.0f runs=%.0f",
					w, k, concurrency, events, r[len(r)/2], r)
			}
		}
	}
}

// benchWorkload is what the replicas are given to do.
type benchWorkload struct {
	rules []byte // the rules directory's only file
	event func(g *benchtest.Generator, i int) (subject string, data []byte)
}

// benchWorkloads are the workloads of TestClusterThroughput:
//
//   - dry: the benchmark workload (internal/benchtest: 100 rules,
//     256-byte events, 1% matching), as `loadgen e2e` runs it on one
//     server: mostly decode, evaluate and ack;
//   - cooldown: every event a flagged join in a room of its own, matching
//     a rule with a cooldown on the room: one cooldown write (a KV create
//     on the R3 state bucket) and one dry-run action per event;
//   - window: every event a report in one of 10,000 rooms, feeding a
//     window keyed by room that no rule acts on: one compare-and-swap of
//     the room's window record per event.
var benchWorkloads = map[string]benchWorkload{
	"dry": {rules: benchtest.RulesYAML(100), event: func(g *benchtest.Generator, i int) (string, []byte) {
		e := g.Next(uint64(i), time.Now())
		return e.Subject, slices.Clone(e.Data)
	}},
	"cooldown": {rules: []byte(`rules:
  - name: mute-seat-2-on-flagged-join
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
    cooldown: {key: event.room_id, for: 1m}
`), event: func(_ *benchtest.Generator, i int) (string, []byte) {
		return joinSubject, flaggedJoin(fmt.Sprintf("cool-%07d", i))
	}},
	"window": {rules: []byte(`windows:
  reports:
    on: [user.flagged]
    key: event.room_id
    for: 10m
rules:
  - name: lock-after-a-million-reports
    on: [user.flagged]
    when: window("reports") >= 1000000
    actions:
      - lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}
`), event: func(_ *benchtest.Generator, i int) (string, []byte) {
		return "rooms.events.user.flagged", fmt.Appendf(nil,
			`{"id":"rep-%07d","type":"user.flagged","room_id":"room-%05d","user":{"id":"u-%d"}}`, i, i%10000, i)
	}},
}

// benchCluster runs one measurement and returns the events per second.
func benchCluster(t *testing.T, workload string, k, events, concurrency int) float64 {
	w, ok := benchWorkloads[workload]
	if !ok {
		t.Fatalf("workload %q: want dry, cooldown or window", workload)
	}
	h := daemontest.New(t)
	simBin, err := daemontest.BuildSimulator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sim := daemontest.StartSimProcess(t, simBin, []string{daemontest.Admin}, -1, "-lenient")
	nats := daemontest.StartNATSCluster(t, clusterSize)
	cfg := h.Config
	cfg.NATS.URL, cfg.RoomEngine.Endpoint = nats.URL(), sim.URL
	cfg.State.Replicas = clusterSize
	cfg.DryRun = true
	cfg.HTTP.Pprof = true
	cfg.NATS.Consumer.AckWait = app.Duration(30 * time.Second)
	cfg.NATS.Consumer.Concurrency = concurrency
	if err := os.RemoveAll(h.RulesDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(h.RulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.RulesDir, workload+".yaml"), w.rules, 0o600); err != nil {
		t.Fatal(err)
	}
	_, js := daemontest.ConnectURL(t, nats.URL())
	createEventStream(t, js, cfg)
	// The replicas start one after the other on the empty stream (they
	// create the rest), the consumer is paused, the events are loaded,
	// and the measurement starts when it resumes: all k take events from
	// the first.
	var reps []*daemontest.Replica
	for i := range k {
		reps = append(reps, h.StartReplica(daemonBin, fmt.Sprintf("r%d", i+1), daemontest.Admin))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.PauseConsumer(ctx, cfg.NATS.Stream, cfg.NATS.Durable, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("pause consumer: %v", err)
	}
	preload(t, js, cfg, w, events)
	from := time.Now()
	if _, err := js.ResumeConsumer(ctx, cfg.NATS.Stream, cfg.NATS.Durable); err != nil {
		t.Fatalf("resume consumer: %v", err)
	}
	cpuFrom := cpuOf(nats, reps, sim)
	ackedFrom := 0
	profile := startProfile(t, reps[0], nats, workload, k)
	var ackedTo int
	for {
		ackedTo = acked(js, cfg, events)
		if ackedTo >= events || time.Since(from) > 10*time.Minute {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(from)
	cpuTo := cpuOf(nats, reps, sim)
	profile()
	if ackedTo < events {
		t.Fatalf("%d of %d events acknowledged after %s", ackedTo, events, took)
	}
	rate := float64(ackedTo-ackedFrom) / took.Seconds()
	var cores []string
	for _, class := range []string{"servers", "daemons", "simulator"} {
		cores = append(cores, fmt.Sprintf("%s=%.2f", class, (cpuTo[class]-cpuFrom[class]).Seconds()/took.Seconds()))
	}
	var opSeconds, ops, retries float64
	for _, r := range reps {
		_, body, err := r.Get("/metrics")
		if err != nil {
			t.Fatalf("scrape %s: %v", r.Name, err)
		}
		opSeconds += metricSum(body, "roomwarden_state_op_duration_seconds_sum")
		ops += metricSum(body, "roomwarden_state_op_duration_seconds_count")
		retries += metricSum(body, "roomwarden_state_cas_retries_total")
	}
	meanMS := 0.0
	if ops > 0 {
		meanMS = 1000 * opSeconds / ops
	}
	t.Logf("SCALING-RUN workload=%s replicas=%d concurrency=%d events=%d measured=%d in %s events_per_s=%.0f "+
		"state_ops=%.0f state_op_mean_ms=%.2f cas_retries=%.0f cores_used: %s",
		workload, k, cfg.NATS.Consumer.Concurrency, events, ackedTo-ackedFrom, took.Round(time.Millisecond), rate,
		ops, meanMS, retries, strings.Join(cores, " "))
	return rate
}

// metricSum adds the values of every /metrics line starting with prefix.
func metricSum(body, prefix string) float64 {
	total := 0.0
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		var v float64
		if i := strings.LastIndexByte(strings.TrimSpace(line), ' '); i > 0 {
			if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
				total += v
			}
		}
	}
	return total
}

// createEventStream creates the events stream at R3, as the daemons
// would.
func createEventStream(t *testing.T, js jetstream.JetStream, cfg *app.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: cfg.NATS.Stream, Subjects: cfg.NATS.Subjects,
		Storage: jetstream.FileStorage, Replicas: clusterSize}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
}

// preload fills the events stream with n of the workload's events.
func preload(t *testing.T, js jetstream.JetStream, cfg *app.Config, w benchWorkload, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLong)
	defer cancel()
	g := benchtest.NewGenerator(100, 100, 1)
	for i := range n {
		subject, data := w.event(g, i)
		if _, err := js.PublishAsync(subject, data); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("pre-load not acknowledged")
	}
	s, err := js.Stream(ctx, cfg.NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(n) {
		t.Fatalf("stream holds %d messages, want %d", info.State.Msgs, n)
	}
}

// acked is how many of n pre-loaded events the durable consumer has
// acknowledged (0 before it exists).
func acked(js jetstream.JetStream, cfg *app.Config, n int) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, cfg.NATS.Stream, cfg.NATS.Durable)
	if err != nil {
		return 0
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0
	}
	return n - int(info.NumPending) - info.NumAckPending
}

// cpuOf is the CPU time used so far by the servers, the daemons and the
// simulator.
func cpuOf(nats *daemontest.NATSCluster, reps []*daemontest.Replica, sim *daemontest.SimProcess) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, n := range nats.Nodes {
		out["servers"] += processCPU(n.Pid())
	}
	for _, r := range reps {
		out["daemons"] += processCPU(r.Pid())
	}
	out["simulator"] = processCPU(sim.Pid())
	return out
}

// processCPU is a process's user and system time (0 if it cannot be
// read).
func processCPU(pid int) time.Duration {
	cpu, _ := procstat.CPU(pid)
	return cpu
}

// startProfile takes 5 s CPU profiles of r and of every server into
// $ROOMWARDEN_CLUSTER_PROFILE, if set; the returned func waits for them.
func startProfile(t *testing.T, r *daemontest.Replica, nats *daemontest.NATSCluster, workload string, k int) (wait func()) {
	dir := os.Getenv("ROOMWARDEN_CLUSTER_PROFILE")
	if dir == "" {
		return func() {}
	}
	targets := map[string]string{"daemon": "http://" + r.HTTPAddr() + "/debug/pprof/profile?seconds=5"}
	for _, n := range nats.Nodes {
		targets["server-"+n.Name] = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=5", n.ProfPort)
	}
	stamp := time.Now().Unix()
	var wg sync.WaitGroup
	for name, url := range targets {
		wg.Go(func() {
			c := http.Client{Timeout: 30 * time.Second}
			resp, err := c.Get(url)
			if err != nil {
				t.Logf("profile %s: %v", name, err)
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			path := filepath.Join(dir, fmt.Sprintf("%s-replicas%d-%d-%s.pprof", workload, k, stamp, name))
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Logf("profile %s: %v", name, err)
			}
		})
	}
	return wg.Wait
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
