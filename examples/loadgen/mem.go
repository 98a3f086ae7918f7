package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/benchtest"
	"github.com/roomwarden/roomwarden/rules"
)

// runMem is `loadgen mem`: compile the rules, fill the cooldowns through
// their real API, then read this process's resident set size.
func runMem(args []string, stdout io.Writer, _ *slog.Logger) error {
	fs := flag.NewFlagSet("mem", flag.ContinueOnError)
	nRules := fs.Int("rules", 10_000, "rules to compile and hold")
	nKeys := fs.Int("keys", 1_000_000, "live cooldown keys to hold")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base, err := rssMB()
	if err != nil {
		return err
	}
	set, err := rules.Compile(rules.Source{Path: "bench.yaml", Data: benchtest.RulesYAML(*nRules)})
	if err != nil {
		return fmt.Errorf("compile rules: %w", err)
	}
	cd := fillCooldowns(set, *nKeys)
	runtime.GC()
	rss, err := rssMB()
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	debug.FreeOSMemory() // what the scavenger returns to the OS in time
	settled, err := rssMB()
	if err != nil {
		return err
	}
	report(stdout, "mem_rules", float64(set.Len()), "rules")
	report(stdout, "mem_cooldown_keys", float64(cd.Len()), "keys")
	report(stdout, "mem_rss_start", base, "MB")
	report(stdout, "mem_rss", rss, "MB")
	report(stdout, "mem_rss_scavenged", settled, "MB")
	report(stdout, "mem_heap_inuse", float64(ms.HeapInuse)/(1<<20), "MB")
	runtime.KeepAlive(set)
	return nil
}

// fillCooldowns allows n distinct keys through a store sized for them,
// spread over the rules' names, each cooling for an hour: all stay live.
func fillCooldowns(set *rules.Set, n int) *state.Cooldowns {
	cd := state.NewCooldowns(n + n/4)
	rs := set.Rules()
	now := time.Now()
	for i := range n {
		cd.Allow(rs[i%len(rs)].Name, "room-"+strconv.Itoa(i), now, time.Hour)
	}
	return cd
}

// rssMB reads VmRSS from /proc/self/status, in MiB.
func rssMB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("rss (Linux only): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0, fmt.Errorf("rss: %w", err)
		}
		return kb / 1024, nil
	}
	return 0, errors.New("rss: no VmRSS in /proc/self/status")
}
