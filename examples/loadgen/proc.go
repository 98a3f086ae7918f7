package main

import "github.com/roomwarden/roomwarden/internal/procstat"

// procMem is a process's resident set size now and at its peak, and
// its Go heap in use, in MiB.
type procMem struct{ rssMB, peakMB, heapMB float64 }

// procMemory reads the daemon's VmRSS and VmHWM (Linux only).
func procMemory(pid int) (procMem, error) {
	m, err := procstat.ReadMemory(pid)
	return procMem{rssMB: float64(m.RSS) / (1 << 20), peakMB: float64(m.Peak) / (1 << 20)}, err
}
