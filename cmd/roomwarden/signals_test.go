package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/daemontest"
	"github.com/roomwarden/roomwarden/internal/syncbuf"
)

// TestSIGTERMWinsOverReloads is the probe of issue [1c/6] item 7
// as it was run: 20,000 rules, so that a reload compiles for seconds,
// then 10 SIGHUPs sent one by one, then a SIGTERM. Sent 20 ms apart,
// each SIGHUP reaches the daemon on its own (a burst sent at once can
// merge into one pending signal, and then nothing fills the queue,
// which is why an earlier version of this test passed on the old
// handler too). The old handler ran each reload on its signal goroutine and
// queued the rest in a 4-slot channel shared with SIGTERM: the SIGTERM
// found it full and was dropped. The daemon must exit, with status 0,
// well within 30 s.
func TestSIGTERMWinsOverReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	const rules = 20000
	dir := t.TempDir()
	bin, err := daemontest.BuildDaemon(dir)
	if err != nil {
		t.Fatal(err)
	}
	rulesDir := filepath.Join(dir, "rules")
	writeManyRules(t, rulesDir, rules)
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`nats:
  embedded: {listen: "127.0.0.1:0", store_dir: %q}
rules: {dir: %q}
roomengine: {sdkappid: 1400000000}
dry_run: true
action_log: {path: %q}
http: {listen: "127.0.0.1:0"}
`, filepath.Join(dir, "nats"), rulesDir, filepath.Join(dir, "actions.jsonl"))), 0o600); err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(120 * time.Second)
	for !strings.Contains(out.String(), "roomwarden running") {
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Change the rules so the first reload compiles all of them again.
	writeManyRules(t, rulesDir, rules+1)
	for range 10 {
		cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("daemon exited with %v after SIGTERM, want 0\n%s", err, out.String())
		}
		t.Logf("exited %v after the SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon still running 30 s after SIGTERM (sent after 10 SIGHUPs, 20 ms apart, with %d rules)\n%s",
			rules, tail(out.String(), 20))
	}
}

// writeManyRules writes n rules into one file in dir.
func writeManyRules(t *testing.T, dir string, n int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: r%d\n    on: [member.enter]\n    when: event.user.id == \"u%d\" && event.user.score > %d.5\n"+
			"    actions: [{lock_seat: {room_id: event.room_id, index: %d, forbid_audio: true}}]\n", i, i, i%7, i%8)
	}
	if err := os.WriteFile(filepath.Join(dir, "many.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
