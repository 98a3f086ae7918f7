package faults

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestClusterWindowReads: window reads in batches (multi_last direct
// gets) on an R3 state bucket, by stores connected to each node of a
// three-node cluster, 64 readers each at once, give every window key's
// count as written, once replication has caught up.
func TestClusterWindowReads(t *testing.T) {
	c := daemontest.StartNATSCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stores := make([]*jsstate.Store, len(c.Nodes))
	for i, n := range c.Nodes {
		_, js := daemontest.ConnectURL(t, n.URL())
		s, err := jsstate.Open(ctx, jsstate.Config{JetStream: js, Replicas: 3, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("open the store on node %d: %v", i, err)
		}
		defer s.Close()
		stores[i] = s
	}
	const keys = 30
	now := time.Now()
	for k := range keys {
		for e := range k % 4 { // key k holds k%4 entries, fed through node k%3
			f := state.Feed{Window: "w", Key: fmt.Sprint("k", k), EventID: fmt.Sprint("e", e), Span: time.Hour, At: now}
			if _, err := stores[k%3].Feed(ctx, f, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(time.Second) // followers may answer direct gets: let them catch up
	var wg sync.WaitGroup
	for i, s := range stores {
		for g := range 64 {
			wg.Go(func() {
				for j := range 10 {
					k := (g + j) % keys
					n, err := s.Count(ctx, "w", fmt.Sprint("k", k), time.Hour, false, now)
					if err != nil || n != k%4 {
						t.Errorf("node %d: count of k%d = %d, %v; want %d", i, k, n, err, k%4)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}
