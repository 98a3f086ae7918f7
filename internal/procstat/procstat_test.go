package procstat

import (
	"os"
	"testing"
	"time"
)

// TestSelf reads this test process: some CPU time spent, a resident set
// no larger than its peak.
func TestSelf(t *testing.T) {
	var cpu time.Duration
	for deadline := time.Now().Add(5 * time.Second); cpu == 0 && time.Now().Before(deadline); {
		var err error
		if cpu, err = CPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if cpu <= 0 {
		t.Errorf("CPU = %v after spinning for 5 s, want more than 0", cpu)
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("memory %+v: want 0 < RSS <= Peak", m)
	}
	if _, err := CPU(-1); err == nil {
		t.Error("CPU of no process: want an error")
	}
}
