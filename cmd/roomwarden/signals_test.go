package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMWinsOverReloads is the probe of issue [1c/6] item 7: a burst
// of SIGHUPs, each starting a slow reload, must not crowd out the
// SIGTERM that follows it. The daemon (the real binary, dry run,
// embedded NATS) must exit promptly; before the fix the SIGTERM was
// dropped and it kept running.
func TestSIGTERMWinsOverReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "roomwarden")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rulesDir := filepath.Join(dir, "rules")
	writeManyRules(t, rulesDir, 3000)
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
	var out syncBuffer
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "roomwarden running") {
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Change the rules so each reload compiles them all again.
	writeManyRules(t, rulesDir, 3001)
	for range 10 {
		cmd.Process.Signal(syscall.SIGHUP)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("daemon exited with %v after SIGTERM, want 0\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon still running 30 s after SIGTERM (sent after 10 SIGHUPs)\n%s", out.String())
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

// syncBuffer is a bytes.Buffer safe for the child's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
