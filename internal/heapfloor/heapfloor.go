// Package heapfloor makes a process with a small live heap collect
// garbage less often, without changing anything for a large one.
//
// The Go collector starts a cycle when the heap has grown by GOGC% (100
// by default) of what the last cycle found live. A daemon whose live
// heap is 20 MB and which allocates 200 MB a second then collects ten
// times a second, and at roomwarden's end-to-end rates that is a sixth of
// its CPU. After every cycle, heapfloor sets the GC percent so that the
// next cycle is due when the heap has grown by at least Floor bytes: a
// live heap of 20 MB with a 64 MB floor collects at 84 MB (GOGC 320),
// one of 200 MB at 400 MB as before. The cost is bounded: at most Floor
// bytes of garbage more than GOGC=100 would keep.
//
// GOMEMLIMIT still applies on top. Processes that set GOGC in their
// environment should not start it (see Wanted).
package heapfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// BasePercent is the GC percent that applies once the live heap is
// large enough: Go's default.
const BasePercent = 100

// Wanted reports whether the process should run a floor: not when the
// operator chose the collector's pace with GOGC.
func Wanted() bool { return os.Getenv("GOGC") == "" }

// Percent returns the GC percent that lets the heap grow by at least
// floor bytes before the next cycle, and by BasePercent once that is
// more. base is what the runtime multiplies the percent by: the heap the
// last cycle found live, plus the stacks and globals it scanned.
func Percent(base, floor uint64) int {
	if base == 0 || floor <= base*BasePercent/100 {
		return BasePercent
	}
	p := (floor*100 + base - 1) / base // rounded up
	return int(min(p, MaxPercent))
}

// MaxPercent bounds the GC percent a floor sets: a heap of a few MB
// grows by ten times itself, not by the whole floor.
const MaxPercent = 1000

// Floor adjusts the GC percent after every collection until Stop.
type Floor struct {
	floor uint64

	mu      sync.Mutex
	stopped bool
	percent int
	sample  []metrics.Sample
}

// growthBase are the runtime metrics whose sum the GC percent is a
// percentage of: the runtime's heap goal is the live heap plus GOGC% of
// the live heap, the stacks and the globals the last cycle scanned.
var growthBase = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// Start sets the GC percent for a floor of floor bytes now and after
// every collection from now on. Only one Floor should run per process.
func Start(floor uint64) *Floor {
	f := &Floor{floor: floor, percent: BasePercent, sample: make([]metrics.Sample, len(growthBase))}
	for i, name := range growthBase {
		f.sample[i].Name = name
	}
	f.adjust()
	f.arm()
	return f
}

// Stop stops adjusting and restores BasePercent.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	debug.SetGCPercent(BasePercent)
}

// sentinel is an object allocated only to learn when a collection has
// run: its cleanup runs after the first cycle that finds it unreachable.
// It is larger than the tiny allocator's 16 bytes, whose objects share
// blocks and may be kept alive by their neighbours.
type sentinel [64]byte

func (f *Floor) arm() {
	runtime.AddCleanup(new(sentinel), (*Floor).collected, f)
}

// collected runs after a collection, in the runtime's cleanup goroutine.
func (f *Floor) collected() {
	if f.adjust() {
		f.arm()
	}
}

// adjust sets the percent for the live heap the last cycle found, and
// reports whether the floor is still running.
func (f *Floor) adjust() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.sample)
	if f.sample[0].Value.Kind() == metrics.KindUint64 && f.sample[0].Value.Uint64() == 0 {
		return true // no cycle has run yet: its goal is the runtime's minimum heap
	}
	var base uint64
	for _, s := range f.sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return false // a runtime without the metric: leave GOGC alone
		}
		base += s.Value.Uint64()
	}
	if p := Percent(base, f.floor); p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
	return true
}
