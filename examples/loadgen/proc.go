package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The daemon process's figures, read from /proc (Linux only).

// procMem is a process's resident set size now and at its peak, and
// its Go heap in use, in MiB.
type procMem struct{ rssMB, peakMB, heapMB float64 }

// procMemory reads VmRSS and VmHWM from /proc/<pid>/status.
func procMemory(pid int) (procMem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, fmt.Errorf("rss (Linux only): %w", err)
	}
	defer f.Close()
	var m procMem
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), ":")
		var dst *float64
		switch name {
		case "VmRSS":
			dst = &m.rssMB
		case "VmHWM":
			dst = &m.peakMB
		default:
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return m, fmt.Errorf("rss: %s: %w", name, err)
		}
		*dst = kb / 1024
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("rss: no VmRSS and VmHWM in /proc/%d/status", pid)
	}
	return m, sc.Err()
}

// procCPU returns the CPU time (user and system) a process has used so
// far, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time (Linux only): %w", err)
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is field 3, utime and stime fields 14 and 15.
	_, rest, ok := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("cpu time: malformed /proc/%d/stat", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go runs on.
const clockTicks = 100
