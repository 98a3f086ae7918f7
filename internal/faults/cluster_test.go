package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestClusterBurstOneBudget (cluster a): a burst of flagged joins, each
// in its own room, published as fast as the R3 stream takes them, is
// acted on by three replicas sharing one rate budget: every action
// executed exactly once (one succeeded line per event across the three
// action logs, one call per room at the simulator), no rolling second
// over the budget at the simulator and no 60007, and no replica over its
// own share.
func TestClusterBurstOneBudget(t *testing.T) {
	sc := scaleOf(t)
	c := startCluster(t, sc.rate, nil)
	c.checkReplicated()
	shares := c.waitShares(c.replicas)
	all := ids("burst-", sc.burst)
	c.addRooms(all)
	start := time.Now()
	if err := publishBurst(c.js, joinSubject, all, flaggedJoin); err != nil {
		t.Fatal(err)
	}
	published := time.Since(start)
	byReplica := c.waitActed(all)
	took := time.Since(start)

	log, calls := allLines(byReplica), c.sim.Calls()
	checkSucceeded(t, log, calls, all)
	checkNoDuplicates(t, log)
	if len(calls) != len(all) {
		t.Errorf("the simulator received %d calls, want exactly %d (one per event)", len(calls), len(all))
	}
	for room, n := range callsPerRoom(calls) {
		if n != 1 {
			t.Errorf("room %s: %d calls, want 1", room, n)
		}
	}
	c.checkWindowBudget(calls)
	perShare := make([]int, len(c.replicas))
	for i, r := range c.replicas {
		if len(byReplica[r.Name]) == 0 {
			t.Errorf("replica %s acted on no event; want the burst spread over all three", r.Name)
		}
		// Counted as fault 3 counts: a replica's own calls can be bunched
		// by a few milliseconds of scheduling on the way.
		perShare[i] = daemontest.MaxReceivedInWindow(callsBy(calls, r.Identifier), checkedWindow)
		if perShare[i] > shares[i] {
			t.Errorf("replica %s made %d calls within %s, over its share %d", r.Name, perShare[i], checkedWindow, shares[i])
		}
	}
	t.Logf("RELIABILITY cluster-a: events=%d rate=%d shares=%v published_in=%s all_acted_in=%s calls=%d lines_per_replica=%s "+
		"max_calls_in_1s=%d max_per_replica_in_%s=%v throttled=%d dups=%d",
		len(all), c.rate, shares, published.Round(time.Millisecond), took.Round(time.Millisecond), len(calls),
		perReplica(byReplica), daemontest.MaxReceivedInWindow(calls, time.Second), checkedWindow, perShare, throttled(calls),
		len(duplicates(log)))
}

// windowRules is a rule on the exact crossing of a window threshold: it
// acts on the event that makes the fifth report in its room, and only
// on that one, if the replicas' counts are exact.
const windowRules = `windows:
  cluster_reports:
    on: [user.flagged]
    key: event.room_id
    for: 10m
rules:
  - name: lock-on-fifth-report
    on: [user.flagged]
    when: window("cluster_reports") == 5
    actions:
      - lock_seat: {room_id: event.room_id, index: 3, forbid_video: true}
`

// TestClusterCooldownAndWindowOnce (cluster b, and shared state on a
// cluster): 30 flagged joins in one room, handed out one at a time to
// the three replicas, lock the seat once (the rule's 1-minute cooldown
// on the room, a compare-and-swap on the R3 state bucket): one
// lock_seat at the simulator, one succeeded line and 29 suppressed. Then
// 20 reports in another room, spread the same way, feed a window whose
// rule fires on the fifth: exactly one lock_seat.
func TestClusterCooldownAndWindowOnce(t *testing.T) {
	sc := scaleOf(t)
	c := startCluster(t, sc.rate, func(h *daemontest.Harness) {
		// One event at a time per replica, so that the events spread.
		h.Config.NATS.Consumer.Concurrency = 1
		h.Config.NATS.Consumer.FetchBatch = 1
		if err := os.WriteFile(filepath.Join(h.RulesDir, "cluster-window.yaml"), []byte(windowRules), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	const hot, reported = "room-hot", "room-reported"
	c.sim.AddRooms(hot, reported)
	joins := ids("hot-", 30)
	if err := publishSpread(c.js, joinSubject, joins, func(id string) []byte {
		return fmt.Appendf(nil, `{"id":%q,"type":"member.enter","room_id":%q,"user":{"id":"u-%s","flagged":true}}`, id, hot, id)
	}); err != nil {
		t.Fatal(err)
	}
	byReplica := c.waitActed(joins)
	log := allLines(byReplica)
	checkNoDuplicates(t, log)
	if got := countOutcome(log, engine.Succeeded); got != 1 {
		t.Errorf("%d succeeded lines for the 30 joins, want 1", got)
	}
	if got := countOutcome(log, engine.Suppressed); got != len(joins)-1 {
		t.Errorf("%d suppressed lines for the 30 joins, want %d", got, len(joins)-1)
	}
	if got := callsPerRoom(c.sim.Calls())[hot]; got != 1 {
		t.Errorf("%d lock_seat calls for %s, want 1", got, hot)
	}
	spread := 0
	for _, r := range c.replicas {
		if len(byReplica[r.Name]) > 0 {
			spread++
		}
	}
	if spread < 2 {
		t.Errorf("the joins went to %d replica(s) (%s), want them spread over at least 2", spread, perReplica(byReplica))
	}
	cooldownSpread := perReplica(byReplica)

	reports := ids("report-", 20)
	if err := publishSpread(c.js, "rooms.events.user.flagged", reports, func(id string) []byte {
		return fmt.Appendf(nil, `{"id":%q,"type":"user.flagged","room_id":%q,"user":{"id":"reporter-%s"}}`, id, reported, id)
	}); err != nil {
		t.Fatal(err)
	}
	c.waitSettled()
	var fired []engine.Outcome
	for _, o := range allLines(c.lines()) {
		if o.Rule == "lock-on-fifth-report" {
			fired = append(fired, o)
		}
	}
	if len(fired) != 1 || fired[0].Outcome != engine.Succeeded {
		t.Errorf("lock-on-fifth-report lines %+v, want exactly one, succeeded", fired)
	}
	if got := callsPerRoom(c.sim.Calls())[reported]; got != 1 {
		t.Errorf("%d lock_seat calls for %s, want 1", got, reported)
	}
	firedBy := replicaOf(c.lines())
	firedOn := ""
	if len(fired) > 0 {
		firedOn = fmt.Sprintf("%s(%v)", fired[0].EventID, firedBy[fired[0].EventID])
	}
	t.Logf("RELIABILITY cluster-b: joins=%d in one room, lines_per_replica=%s succeeded=%d suppressed=%d calls=%d; "+
		"reports=%d window_threshold_fired=%d on %s calls=%d",
		len(joins), cooldownSpread, countOutcome(log, engine.Succeeded), countOutcome(log, engine.Suppressed),
		callsPerRoom(c.sim.Calls())[hot], len(reports), len(fired), firedOn, callsPerRoom(c.sim.Calls())[reported])
}

// publishSpread publishes the events one at a time, a few milliseconds
// apart, so that each replica's single pull takes its turn.
func publishSpread(js jetstream.JetStream, subject string, ids []string, body func(string) []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	for _, id := range ids {
		if err := daemontest.PublishAcked(ctx, js, subject, id, body(id)); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// TestClusterSIGKILLReplica (cluster c): one replica is killed with
// SIGKILL a third of the way through a burst. Every event is acted on
// (the dead replica's unacknowledged events come back to the others
// after ack_wait), the survivors take its share over (their
// roomwarden_replica_rate_share rises from a third to a half of the
// rate), and no rolling second at the simulator exceeds the rate.
// Allowed, because lock_seat is idempotent: an event the dead replica
// acted on (line or call) and a survivor again, since its ack died with
// it. Not allowed: a survivor acting on an event twice, a lock without
// its line (other than the dead replica's last calls), a line without
// its lock.
func TestClusterSIGKILLReplica(t *testing.T) {
	sc := scaleOf(t)
	c := startCluster(t, sc.rate, nil)
	before := c.waitShares(c.replicas)
	all := ids("kill-", sc.kill)
	c.addRooms(all)
	start := time.Now()
	waitPublished := publishInBackground(c.js, joinSubject, all, flaggedJoin)
	victim, survivors := c.replicas[1], []*daemontest.Replica{c.replicas[0], c.replicas[2]}
	c.waitCalls(len(all) / 3)
	victim.Signal(syscall.SIGKILL)
	if exit, err := victim.Wait(waitLong); err != nil || exit.Signal != syscall.SIGKILL {
		t.Fatalf("after SIGKILL: %v %v, want killed by SIGKILL", exit, err)
	}
	killedAt := time.Now()
	callsAtKill := len(c.sim.Calls())
	after := c.waitShares(survivors)
	tookOver := time.Since(killedAt)
	if err := waitPublished(); err != nil {
		t.Fatal(err)
	}
	byReplica := c.waitActed(all)
	done := time.Since(start)

	log, calls := allLines(byReplica), c.sim.Calls()
	checkSucceeded(t, log, calls, all)
	c.checkWindowBudget(calls)
	for i := range survivors {
		if after[i] <= before[0] {
			t.Errorf("survivor %s: share %d after the kill, want more than its %d before", survivors[i].Name, after[i], before[0])
		}
	}
	if tookOver > takeoverBound {
		t.Errorf("the survivors took the killed replica's share over %s after the kill, want within %s",
			tookOver.Round(time.Millisecond), takeoverBound)
	}
	again, lockedTwice := checkKilled(t, byReplica, calls, victim, survivors, all)
	t.Logf("RELIABILITY cluster-c: events=%d rate=%d killed=%s at_call=%d shares_before=%v shares_after=%v share_taken_over_in=%s "+
		"all_acted_in=%s lines_per_replica=%s acted_by_dead_and_survivor=%d rooms_locked_twice=%d calls=%d "+
		"max_calls_in_1s=%d throttled=%d (ack_wait %s)",
		len(all), c.rate, victim.Name, callsAtKill, before, after, tookOver.Round(time.Millisecond), done.Round(time.Millisecond),
		perReplica(byReplica), again, lockedTwice, len(calls), daemontest.MaxReceivedInWindow(calls, time.Second),
		throttled(calls), c.h.Config.NATS.Consumer.AckWait.Duration())
}

// takeoverBound bounds how long after a replica is killed the survivors
// have raised their shares: its heartbeat key expires at most 3 s after
// its last beat, the others count it one more window (1.02 s), and the
// test reads their metrics every 250 ms; the rest is slack for a
// loaded machine (measured: about 4 s).
const takeoverBound = 10 * time.Second

// checkKilled checks the lines and calls of a burst during which victim
// was killed: see TestClusterSIGKILLReplica. It returns how many events
// both the victim and a survivor acted on, and how many rooms were
// locked twice.
func checkKilled(t *testing.T, byReplica map[string][]engine.Outcome, calls []sim.Call,
	victim *daemontest.Replica, survivors []*daemontest.Replica, ids []string) (again, lockedTwice int) {
	t.Helper()
	dead := byEvent(byReplica[victim.Name])
	var alive []engine.Outcome
	survivorCalls := map[string]int{}
	for _, s := range survivors {
		alive = append(alive, byReplica[s.Name]...)
		for room, n := range okCallsBy(calls, s.Identifier) {
			survivorCalls[room] += n
		}
	}
	live := byEvent(alive)
	deadCalls := okCallsBy(calls, victim.Identifier)
	for _, id := range ids {
		room := roomOf(id)
		switch {
		case len(live[id]) > 1:
			t.Errorf("event %s: %d lines from the survivors, want at most 1", id, len(live[id]))
		case len(dead[id]) > 1:
			t.Errorf("event %s: %d lines from the killed replica, want at most 1", id, len(dead[id]))
		}
		if survivorCalls[room] != len(live[id]) {
			t.Errorf("event %s: %d successful survivor calls, %d survivor lines; want them equal", id, survivorCalls[room], len(live[id]))
		}
		if deadCalls[room] < len(dead[id]) || deadCalls[room] > 1 {
			t.Errorf("event %s: %d successful calls from the killed replica, %d lines; want at most 1 call and no line without one",
				id, deadCalls[room], len(dead[id]))
		}
		if len(live[id]) > 0 && len(dead[id]) > 0 {
			again++
		}
		if survivorCalls[room]+deadCalls[room] > 1 {
			lockedTwice++
		}
	}
	return again, lockedTwice
}

// TestClusterNATSNodeStop (cluster d): a NATS node that a replica is
// connected to, made the events stream's leader, is stopped (SIGTERM)
// a third of the way through a burst that is still being published, and
// started again once the others have acted on more events without it
// and it has been down for nodeDown. Nothing is lost: every event is
// acted on. The duplicates lock_seat's idempotence allows, and no
// others: an event may be acted on twice, never three times, and only
// if its first call reached the simulator between a second before the
// stop and the moment the cluster and every replica were healthy again
// — its ack, or the state write that precedes its line (the lock
// record), was lost with the node or its leadership, and the event was
// redelivered. So, per event: one or two successful calls; as many
// lines, or one fewer when a state write failed after the call; and
// outside the outage exactly one call and one line. No rolling second
// over the rate, no 60007.
func TestClusterNATSNodeStop(t *testing.T) {
	sc := scaleOf(t)
	c := startCluster(t, sc.rate, nil)
	all := ids("node-", sc.restart)
	c.addRooms(all)
	start := time.Now()
	node := c.nodeToStop()
	waitPublished := publishInBackground(c.js, joinSubject, all, flaggedJoin)
	c.waitCalls(len(all) / 3)
	node.Stop()
	stoppedAt := time.Now()
	callsAtStop := len(c.sim.Calls())
	// The others act without the node, and it stays down long enough for
	// the replicas connected to it to reconnect elsewhere and for their
	// heartbeats to lapse (staleness is 2 s).
	c.waitCalls(min(len(all), callsAtStop+c.rate))
	time.Sleep(time.Until(stoppedAt.Add(nodeDown)))
	downFor := time.Since(stoppedAt)
	node.Start()
	c.poll(waitLong, "every replica ready", func() bool {
		for _, r := range c.replicas {
			if code, _, err := r.Get("/readyz"); err != nil || code != http.StatusOK {
				return false
			}
		}
		return true
	})
	healedAt := time.Now()
	if err := waitPublished(); err != nil {
		t.Fatal(err)
	}
	byReplica := c.waitActed(all)
	done := time.Since(start)

	log, calls := allLines(byReplica), c.sim.Calls()
	checkSucceeded(t, log, calls, all)
	c.checkWindowBudget(calls)
	twice, unlogged := checkTwiceOnlyInOutage(t, log, calls, all, stoppedAt.Add(-time.Second), healedAt)
	reconnected := 0
	for _, r := range c.replicas {
		if strings.Contains(r.Output.String(), `"msg":"nats reconnected"`) {
			reconnected++
		}
	}
	if reconnected == 0 {
		t.Errorf("no replica logged nats reconnected, want at least the one connected to %s", node.Name)
	}
	t.Logf("RELIABILITY cluster-d: events=%d rate=%d stopped=%s(events stream leader) at_call=%d down_for=%s replicas_reconnected=%d "+
		"healed_after=%s all_acted_in=%s lines=%d lines_per_replica=%s acted_twice=%d (of which call_without_line=%d) calls=%d "+
		"max_calls_in_1s=%d throttled=%d",
		len(all), c.rate, node.Name, callsAtStop, downFor.Round(time.Millisecond), reconnected,
		healedAt.Sub(stoppedAt).Round(time.Millisecond), done.Round(time.Millisecond), len(log), perReplica(byReplica),
		twice, unlogged, len(calls), daemontest.MaxReceivedInWindow(calls, time.Second), throttled(calls))
}

// nodeDown is how long scenario d keeps the node stopped, at least.
const nodeDown = 5 * time.Second

// checkTwiceOnlyInOutage checks the lines and successful calls of each
// id against TestClusterNATSNodeStop's promise, the outage being
// [from, to]. It returns how many events were acted on twice, and how
// many of those have one line fewer than calls.
func checkTwiceOnlyInOutage(t *testing.T, log []engine.Outcome, calls []sim.Call, ids []string, from, to time.Time) (twice, unlogged int) {
	t.Helper()
	lines := byEvent(log)
	ok := map[string][]time.Time{}
	for _, c := range calls {
		if c.Code == 0 && c.HTTPStatus == http.StatusOK {
			ok[c.RoomID] = append(ok[c.RoomID], c.Time)
		}
	}
	for _, id := range ids {
		n, at := len(lines[id]), ok[roomOf(id)]
		switch {
		case len(at) == 1 && n == 1:
			continue
		case len(at) == 2 && (n == 2 || n == 1):
			twice++
			if n == 1 {
				unlogged++
			}
			if first := slices.MinFunc(at, time.Time.Compare); first.Before(from) || first.After(to) {
				t.Errorf("event %s acted on twice, first call at %s, outside the outage %s to %s", id,
					first.Format(time.StampMilli), from.Format(time.StampMilli), to.Format(time.StampMilli))
			}
		default:
			t.Errorf("event %s: %d successful calls and %d lines, want 1 and 1, or twice within the outage", id, len(at), n)
		}
	}
	return twice, unlogged
}

// nodeToStop picks a node that at least one replica is connected to
// and makes it the events stream's leader (a stepdown with that node
// preferred), so that stopping it moves both a replica's connection and
// the stream's leadership.
func (c *cluster) nodeToStop() *daemontest.ClusterNode {
	c.t.Helper()
	var node *daemontest.ClusterNode
	for _, n := range c.nats.Nodes {
		if n.Connections("roomwarden") > 0 {
			node = n
			break
		}
	}
	if node == nil {
		c.t.Fatal("no node has a roomwarden connection")
	}
	stream := c.h.Config.NATS.Stream
	c.poll(waitLong, "the events stream led by "+node.Name, func() bool {
		if c.streamLeader() == node {
			return true
		}
		req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, node.Name)
		_, _ = c.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, []byte(req), 5*time.Second)
		return false
	})
	return node
}

// streamLeader is the node leading the events stream's Raft group, nil
// while it elects one.
func (c *cluster) streamLeader() *daemontest.ClusterNode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, c.h.Config.NATS.Stream)
	if err != nil {
		c.t.Fatalf("stream %s: %v", c.h.Config.NATS.Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		c.t.Fatalf("stream %s info: %v", c.h.Config.NATS.Stream, err)
	}
	if info.Config.Replicas != clusterSize {
		c.t.Errorf("stream %s has %d replicas, want %d", info.Config.Name, info.Config.Replicas, clusterSize)
	}
	for _, n := range c.nats.Nodes {
		if info.Cluster != nil && n.Name == info.Cluster.Leader {
			return n
		}
	}
	return nil // electing
}
