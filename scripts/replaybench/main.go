// Command replaybench prepares what scripts/replay-bench.sh measures:
// it publishes the benchmark workload (internal/benchtest: 256-byte
// events, one in a hundred matching one of 100 distinct rules) into the
// daemon's stream, created as the daemon creates it, and writes the
// rules and a config for `roomwarden replay`.
//
//	replaybench -nats URL -n 1000000 -out DIR
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

// The daemon's defaults.
const (
	streamName    = "ROOM_EVENTS"
	streamSubject = "rooms.events.>"
)

func main() {
	url := flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL")
	n := flag.Int("n", 1_000_000, "events to publish")
	nRules := flag.Int("rules", 100, "rules in the generated rules file")
	out := flag.String("out", ".", "directory for rules/ and config.yaml")
	flag.Parse()
	if err := run(*url, *n, *nRules, *out); err != nil {
		fmt.Fprintf(os.Stderr, "replaybench: %v\n", err)
		os.Exit(1)
	}
}

func run(url string, n, nRules int, out string) error {
	if err := writeFiles(url, nRules, out); err != nil {
		return err
	}
	nc, err := nats.Connect(url, nats.Name("roomwarden-replaybench"))
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := resetStream(ctx, js); err != nil {
		return err
	}
	start := time.Now()
	if err := publish(ctx, js, n, nRules); err != nil {
		return err
	}
	fmt.Printf("published: %d events in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeFiles writes out/rules/bench.yaml and out/config.yaml.
func writeFiles(url string, nRules int, out string) error {
	dir := filepath.Join(out, "rules")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.yaml"), benchtest.RulesYAML(nRules), 0o644); err != nil {
		return err
	}
	cfg := fmt.Sprintf("nats:\n  url: %s\nrules:\n  dir: %s\n", url, dir)
	return os.WriteFile(filepath.Join(out, "config.yaml"), []byte(cfg), 0o644)
}

// resetStream creates ROOM_EVENTS empty, as the daemon would.
func resetStream(ctx context.Context, js jetstream.JetStream) error {
	if err := js.DeleteStream(ctx, streamName); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream: %w", err)
	}
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: streamName, Subjects: []string{streamSubject},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute, MaxAge: 24 * time.Hour})
	if err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	return nil
}

// publish stores n generated events, each timed when it is published.
func publish(ctx context.Context, js jetstream.JetStream, n, nRules int) error {
	g := benchtest.NewGenerator(nRules, 100, 1)
	const window = 4000
	for seq := range uint64(n) {
		e := g.Next(seq, time.Now())
		if _, err := js.PublishAsync(e.Subject, e.Data); err != nil {
			return fmt.Errorf("publish event %d: %w", seq, err)
		}
		if seq%window == window-1 || seq == uint64(n)-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}
