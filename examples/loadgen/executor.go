package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/executor"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

const simAppID = 1400000000

// runExecutor is `loadgen executor`: a backlog of distinct actions
// through the real executor and Room Engine client to the simulator.
func runExecutor(args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("executor", flag.ContinueOnError)
	rate := fs.Int("rate", 200, "executor rate_per_second (the simulator enforces 200 per rolling second)")
	actions := fs.Int("actions", 2000, "actions in the backlog")
	lenient := fs.Bool("lenient", false, "a lenient simulator (any field case, unknown fields, any identifier), for load it need not check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := []byte(rand.Text())
	s, url, stop, err := serveSim(key, sim.DefaultLimit, *actions, *lenient, logger)
	if err != nil {
		return err
	}
	defer stop()
	client, err := roomengine.New(roomengine.Config{Endpoint: url, SDKAppID: simAppID, Identifier: "administrator", SecretKey: key})
	if err != nil {
		return fmt.Errorf("room engine client: %w", err)
	}
	defer client.Close()
	took, failed, err := runBacklog(client, *rate, *actions, logger)
	if err != nil {
		return err
	}
	reportExecutor(stdout, s, *rate, *actions, failed, took)
	if failed > 0 {
		return fmt.Errorf("%d of %d actions did not succeed", failed, *actions)
	}
	return nil
}

// serveSim serves a Room Engine simulator on a loopback port, accepting
// limit calls per rolling second (negative: no limit), with the rooms of
// backlogAction(0) to backlogAction(rooms-1) created.
func serveSim(key []byte, limit, rooms int, lenient bool, logger *slog.Logger) (*sim.Server, string, func(), error) {
	s, err := sim.New(sim.Config{SecretKey: key, SDKAppID: simAppID, Limit: limit, Lenient: lenient, MaxCalls: 1 << 20})
	if err != nil {
		return nil, "", nil, fmt.Errorf("simulator: %w", err)
	}
	for i := range rooms {
		s.AddRoom(backlogAction(i).Params.RoomID, sim.DefaultSeats)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("simulator: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("simulator stopped", "err", err)
		}
	}()
	return s, "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// runBacklog submits n distinct actions at once and waits for all their
// outcomes; it returns how long that took and how many did not succeed.
func runBacklog(sink engine.Sink, rate, n int, logger *slog.Logger) (time.Duration, int, error) {
	e, err := executor.New(executor.Config{Sink: sink, DryRun: sink, DeadLetters: nopDLQ{},
		RatePerSecond: rate, QueueSize: n, Logger: logger})
	if err != nil {
		return 0, 0, fmt.Errorf("executor: %w", err)
	}
	ctx := context.Background()
	defer e.Stop(ctx)
	var failed atomic.Int64
	done := make(chan struct{}, n)
	onDone := func(o engine.Outcome, err error) {
		if err != nil || o.Outcome != engine.Succeeded {
			failed.Add(1)
		}
		done <- struct{}{}
	}
	start := time.Now()
	for i := range n {
		if err := e.Submit(ctx, backlogAction(i), onDone); err != nil {
			return 0, 0, fmt.Errorf("submit: %w", err)
		}
	}
	for range n {
		<-done
	}
	return time.Since(start), int(failed.Load()), nil
}

// backlogAction is the i-th action of a backlog: each its own room.
func backlogAction(i int) engine.Action {
	return engine.Action{Rule: "bench", EventID: "e-" + strconv.Itoa(i), Kind: engine.ActionLockSeat,
		Params: engine.LockSeat{RoomID: "room-" + strconv.Itoa(i), Index: i % 8, ForbidAudio: engine.True}}
}

type nopDLQ struct{}

func (nopDLQ) DeadLetter(context.Context, engine.Outcome) error { return nil }

func reportExecutor(w io.Writer, s *sim.Server, rate, n, failed int, took time.Duration) {
	calls := s.Calls()
	throttled := 0
	for _, c := range calls {
		if c.Throttled() {
			throttled++
		}
	}
	report(w, "executor_actions", float64(n), "actions")
	report(w, "executor_failed", float64(failed), "actions")
	report(w, "executor_calls", float64(len(calls)), "calls")
	report(w, "executor_throttled", float64(throttled), "calls (60007 from the simulator)")
	if len(calls) > 1 {
		span := calls[len(calls)-1].Time.Sub(calls[0].Time)
		perSecond := float64(len(calls)-1) / span.Seconds()
		report(w, "executor_rate", perSecond, "calls/s")
		report(w, "executor_rate_of_limit", 100*perSecond/float64(rate), "%")
	}
	report(w, "executor_max_in_rolling_second", float64(s.MaxInWindow(time.Second)), "calls")
	report(w, "executor_max_received_in_rolling_second", float64(s.MaxReceivedInWindow(time.Second)), "calls")
	report(w, "executor_backlog_s", took.Seconds(), "s")
}
