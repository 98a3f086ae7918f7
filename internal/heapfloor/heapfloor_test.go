package heapfloor_test

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/heapfloor"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{20 * mib, 64 * mib, 320},
		{30 * mib, 64 * mib, 214}, // rounded up: 64/30 = 2.133...
		{64 * mib, 64 * mib, 100},
		{200 * mib, 64 * mib, 100},
		{1 * mib, 64 * mib, heapfloor.MaxPercent},
		{0, 64 * mib, 100},
		{20 * mib, 0, 100},
	} {
		if got := heapfloor.Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d MiB, floor %d MiB) = %d, want %d", c.live/mib, c.floor/mib, got, c.want)
		}
	}
}

// TestFloorFollowsTheLiveHeap runs a floor in the test process: the GC
// percent is raised for its small live heap, lowered after every
// collection as the live heap grows past the floor, and restored by
// Stop. Not parallel: the GC percent belongs to the process.
func TestFloorFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(heapfloor.BasePercent))
	const floor = 64 * mib
	runtime.GC()
	f := heapfloor.Start(floor)
	defer f.Stop()
	if p := gcPercent(); p <= heapfloor.BasePercent {
		t.Fatalf("GC percent %d with a live heap of %d MiB and a floor of 64 MiB, want more than %d",
			p, liveHeap()/mib, heapfloor.BasePercent)
	}

	held := make([][]byte, 0, 100)
	for range 100 { // 100 MiB live, past the floor
		held = append(held, make([]byte, mib))
	}
	runtime.GC()
	waitPercent(t, func(p int) bool { return p == heapfloor.BasePercent }, "100 with 100 MiB live")
	runtime.KeepAlive(held)

	runtime.GC()
	waitPercent(t, func(p int) bool { return p > heapfloor.BasePercent }, "above 100 once the heap is small again")

	f.Stop()
	if p := gcPercent(); p != heapfloor.BasePercent {
		t.Errorf("GC percent %d after Stop, want %d", p, heapfloor.BasePercent)
	}
	runtime.GC()
	time.Sleep(10 * time.Millisecond) // a cleanup that ran now must not raise it again
	if p := gcPercent(); p != heapfloor.BasePercent {
		t.Errorf("GC percent %d after Stop and a collection, want %d", p, heapfloor.BasePercent)
	}
}

// waitPercent waits for the cleanup goroutine to adjust the percent.
func waitPercent(t *testing.T, ok func(int) bool, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(gcPercent()) {
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d with a live heap of %d MiB, want %s", gcPercent(), liveHeap()/mib, want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
