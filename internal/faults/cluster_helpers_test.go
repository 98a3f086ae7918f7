package faults

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// The cluster suite runs three nats-server processes clustered on
// loopback, the events stream, the dead-letter stream and the state at
// R3, and three roomwarden processes sharing one config against one
// Room Engine simulator.
const clusterSize = 3

// clusterLongEnv, set to 1, runs the cluster suite's long version: ten
// times the events (make cluster-long). The rate stays at 200, the most
// executor.rate_per_second accepts (the Room Engine API's limit).
const clusterLongEnv = "ROOMWARDEN_CLUSTER_LONG"

// clusterScale is the suite's size: events per scenario and the rate
// budget of all replicas together.
type clusterScale struct {
	burst, kill, restart int // events of scenarios a, c and d
	rate                 int
}

func scaleOf(t *testing.T) clusterScale {
	if os.Getenv(clusterLongEnv) == "1" {
		t.Logf("%s=1: long version", clusterLongEnv)
		return clusterScale{burst: 12000, kill: 9000, restart: 9000, rate: 200}
	}
	return clusterScale{burst: 1200, kill: 900, restart: 900, rate: 200}
}

// cluster is the rig of one cluster test.
type cluster struct {
	t        *testing.T
	h        *daemontest.Harness // the config, rules and files
	sim      *daemontest.SimProcess
	nats     *daemontest.NATSCluster
	replicas []*daemontest.Replica
	nc       *nats.Conn
	js       jetstream.JetStream
	rate     int
}

// clusterJitterMargin is the replicas' executor.jitter_margin. Three
// servers, three daemons and the simulator share two cores here, beside
// other test binaries: a process can wait its turn for a hundred
// milliseconds and more, so a call reaches the simulator that much after
// the limiter let it start, and the late calls of one window land in the
// next. With the default 20 ms, 3 of 6 runs at load 3.5-5.5 had a
// second over the budget at the simulator (213 and 227 calls). The wider
// margin costs rate (199 calls per 1.25 s) and keeps the promise on this
// machine; production replicas on their own machines keep the default.
const clusterJitterMargin = 250 * time.Millisecond

// startCluster starts the three servers, a simulator process that
// accepts one administrator per replica and refuses more than rate
// calls in any rolling second, and the three replicas on h.Config
// (after tune changes it), and waits until every replica has its share.
func startCluster(t *testing.T, rate int, tune func(h *daemontest.Harness)) *cluster {
	t.Helper()
	h := daemontest.New(t)
	admins := make([]string, clusterSize)
	for i := range admins {
		admins[i] = fmt.Sprintf("administrator-%d", i+1)
	}
	simBin, err := daemontest.BuildSimulator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, h: h, sim: daemontest.StartSimProcess(t, simBin, admins, rate),
		nats: daemontest.StartNATSCluster(t, clusterSize), rate: rate}
	cfg := h.Config
	cfg.RoomEngine.Endpoint = c.sim.URL
	cfg.NATS.URL = c.nats.URL()
	cfg.State.Replicas = clusterSize
	cfg.Executor.RatePerSecond = rate
	cfg.Executor.JitterMargin = app.Duration(clusterJitterMargin)
	// A dead replica's events come back to the others after ack_wait.
	cfg.NATS.Consumer.AckWait = app.Duration(5 * time.Second)
	cfg.NATS.Consumer.BackOff = nil
	if tune != nil {
		tune(h)
	}
	for i := range clusterSize {
		c.replicas = append(c.replicas, h.StartReplica(daemonBin, fmt.Sprintf("r%d", i+1), admins[i]))
	}
	c.waitShares(c.replicas)
	c.nc, c.js = daemontest.ConnectURL(t, c.nats.URL())
	return c
}

// share reads a replica's roomwarden_replica_rate_share and
// roomwarden_replicas.
func share(r *daemontest.Replica) (share, n int) {
	return int(r.Metric("roomwarden_replica_rate_share")), int(r.Metric("roomwarden_replicas"))
}

// waitShares waits until each of live counts exactly len(live) replicas
// and has its share of the rate (rate/n, one more for the first rate
// mod n), and checks that the shares add up to the rate.
func (c *cluster) waitShares(live []*daemontest.Replica) []int {
	c.t.Helper()
	n := len(live)
	shares := make([]int, n)
	c.poll(waitLong, fmt.Sprintf("%d replicas sharing %d calls/s", n, c.rate), func() bool {
		for i, r := range live {
			s, got := share(r)
			if got != n || s < c.rate/n || s > c.rate/n+1 {
				return false
			}
			shares[i] = s
		}
		return true
	})
	sum := 0
	for _, s := range shares {
		sum += s
	}
	if sum != c.rate {
		c.t.Errorf("shares %v add up to %d, want the rate %d", shares, sum, c.rate)
	}
	return shares
}

// lines returns every replica's action log lines so far, by replica.
func (c *cluster) lines() map[string][]engine.Outcome {
	out := map[string][]engine.Outcome{}
	for _, r := range c.replicas {
		out[r.Name] = r.ActionLog()
	}
	return out
}

// allLines is every replica's action log lines together.
func allLines(byReplica map[string][]engine.Outcome) []engine.Outcome {
	var out []engine.Outcome
	for _, l := range byReplica {
		out = append(out, l...)
	}
	return out
}

// waitActed waits until the events consumer has nothing pending or
// unacknowledged (an event is acknowledged once its outcomes are on
// file; a redelivery after a lost ack is seen by then, not missed), and
// returns every replica's lines, failing the test if an id has none.
func (c *cluster) waitActed(ids []string) map[string][]engine.Outcome {
	c.t.Helper()
	c.waitSettled()
	byReplica := c.lines()
	if lines := byEvent(allLines(byReplica)); len(lines) < len(ids) || !haveAll(allLines(byReplica), ids) {
		c.t.Fatalf("every event acknowledged, but only %d of %d have an action log line", len(lines), len(ids))
	}
	return byReplica
}

// waitSettled waits until the events consumer has nothing pending and
// nothing unacknowledged. It polls four times a second: the simulator
// runs in this process and stamps each call's arrival, so the test
// keeps its own work light while calls arrive.
func (c *cluster) waitSettled() {
	c.t.Helper()
	cfg := c.h.Config.NATS
	c.poll(3*waitLong, "every event acknowledged", func() bool {
		info := daemontest.ConsumerInfo(c.t, c.js, cfg.Stream, cfg.Durable)
		return info.NumAckPending == 0 && info.NumPending == 0
	})
}

// poll checks cond every 250ms until it holds, failing the test after
// timeout.
func (c *cluster) poll(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitCalls waits until the simulator has received at least n calls.
func (c *cluster) waitCalls(n int) {
	c.t.Helper()
	c.poll(waitLong, fmt.Sprintf("%d calls at the simulator", n), func() bool { return len(c.sim.Calls()) >= n })
}

// publishBurst publishes body(id) for every id as fast as JetStream
// takes them (asynchronously, each with its id as Nats-Msg-Id), and
// publishes again, one at a time until acknowledged, any the stream did
// not acknowledge.
func publishBurst(js jetstream.JetStream, subject string, ids []string, body func(string) []byte) error {
	type pending struct {
		id string
		f  jetstream.PubAckFuture
	}
	var sent []pending
	var again []string
	for _, id := range ids {
		f, err := js.PublishAsync(subject, body(id), jetstream.WithMsgID(id))
		if err != nil {
			again = append(again, id)
			continue
		}
		sent = append(sent, pending{id, f})
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(waitLong):
	}
	for _, p := range sent {
		select {
		case <-p.f.Ok():
		default:
			again = append(again, p.id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLong)
	defer cancel()
	for _, id := range again {
		if err := daemontest.PublishAcked(ctx, js, subject, id, body(id)); err != nil {
			return err
		}
	}
	return nil
}

// publishInBackground runs publishBurst on its own goroutine; wait
// returns its error.
func publishInBackground(js jetstream.JetStream, subject string, ids []string, body func(string) []byte) (wait func() error) {
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = publishBurst(js, subject, ids, body) })
	return func() error { wg.Wait(); return err }
}

// replicaOf maps each event id to the replicas whose logs hold a line
// for it.
func replicaOf(byReplica map[string][]engine.Outcome) map[string][]string {
	out := map[string][]string{}
	for name, lines := range byReplica {
		for _, o := range lines {
			out[o.EventID] = append(out[o.EventID], name)
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// perReplica formats how many lines each replica wrote: r1=…,r2=…
func perReplica(byReplica map[string][]engine.Outcome) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(byReplica)) {
		parts = append(parts, fmt.Sprintf("%s=%d", name, len(byReplica[name])))
	}
	return strings.Join(parts, ",")
}

// checkWindowBudget fails the test if any rolling second at the
// simulator held more calls than the rate, or if any call was answered
// 60007.
func (c *cluster) checkWindowBudget(calls []sim.Call) {
	c.t.Helper()
	if got := daemontest.MaxReceivedInWindow(calls, time.Second); got > c.rate {
		from, by := busiestWindow(calls, time.Second)
		c.t.Errorf("the simulator received %d calls within a second, want at most %d; the busiest second, from %s, by identifier "+
			"(\"\" for calls refused before it was read): %v; each replica's busiest second: %v",
			got, c.rate, from.Format(time.StampMicro), by, c.busiestPerReplica(calls))
	}
	if n := throttled(calls); n != 0 {
		c.t.Errorf("the simulator answered %d calls with 60007, want none", n)
	}
}

// addRooms creates the room of each id at the simulator.
func (c *cluster) addRooms(ids []string) {
	rooms := make([]string, len(ids))
	for i, id := range ids {
		rooms[i] = roomOf(id)
	}
	c.sim.AddRooms(rooms...)
}

// okCallsBy counts the successful calls per room made with identifier.
func okCallsBy(calls []sim.Call, identifier string) map[string]int {
	return okCallsPerRoom(callsBy(calls, identifier))
}

// checkReplicated fails the test unless every stream roomwarden created
// (events, dead letters, undos, the state and replicas buckets) has
// clusterSize replicas.
func (c *cluster) checkReplicated() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := c.h.Config
	for _, name := range []string{cfg.NATS.Stream, cfg.NATS.DLQ.Stream, cfg.State.UndoStream,
		"KV_" + cfg.State.Bucket, "KV_roomwarden_replicas"} {
		s, err := c.js.Stream(ctx, name)
		if err != nil {
			c.t.Errorf("stream %s: %v", name, err)
			continue
		}
		if got := s.CachedInfo().Config.Replicas; got != clusterSize {
			c.t.Errorf("stream %s has %d replicas, want %d", name, got, clusterSize)
		}
	}
}

// busiestWindow returns the start of the first window [from, from+window)
// holding the most calls, and how many of them each identifier made.
func busiestWindow(calls []sim.Call, window time.Duration) (from time.Time, by map[string]int) {
	sorted := slices.Clone(calls)
	slices.SortFunc(sorted, func(a, b sim.Call) int { return a.Time.Compare(b.Time) })
	best, bestLo, lo := 0, 0, 0
	for hi, c := range sorted {
		for c.Time.Sub(sorted[lo].Time) >= window {
			lo++
		}
		if hi-lo+1 > best {
			best, bestLo = hi-lo+1, lo
		}
	}
	by = map[string]int{}
	for _, c := range sorted[bestLo : bestLo+best] {
		by[c.Identifier]++
	}
	if best > 0 {
		from = sorted[bestLo].Time
	}
	return from, by
}

// busiestPerReplica is each replica's most calls in any second at the
// simulator, by name.
func (c *cluster) busiestPerReplica(calls []sim.Call) map[string]int {
	out := map[string]int{}
	for _, r := range c.replicas {
		out[r.Name] = daemontest.MaxReceivedInWindow(callsBy(calls, r.Identifier), time.Second)
	}
	return out
}
