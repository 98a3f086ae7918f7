package actionlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
)

func outcome(i int) engine.Outcome {
	return engine.Outcome{
		Time:      time.Date(2026, 11, 25, 21, 0, i, 0, time.UTC),
		Rule:      "mute-seat-2-on-flagged-join",
		EventID:   fmt.Sprintf("evt-%04d", i),
		Action:    engine.ActionLockSeat,
		Params:    engine.LockSeat{RoomID: "room-test", Index: 2, ForbidAudio: engine.True},
		Outcome:   engine.Succeeded,
		Attempts:  1,
		RequestID: "req-1",
		LatencyMS: 12.5,
	}
}

func openLog(t *testing.T, path string, opts Config) *Log {
	t.Helper()
	opts.Path = path
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func record(t *testing.T, l *Log, o engine.Outcome) {
	t.Helper()
	if err := l.Record(o); err != nil {
		t.Fatalf("Record(%s): %v", o.EventID, err)
	}
}

// readLines returns the event ids in the JSON lines of path.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var o engine.Outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		ids = append(ids, o.EventID)
	}
	return ids
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestRecordWritesOneJSONLinePerOutcome(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "actions.jsonl")
	reg := prometheus.NewRegistry()
	l := openLog(t, path, Config{Registerer: reg})
	want := []engine.Outcome{outcome(1), outcome(2)}
	want[1].Outcome, want[1].ErrorCode, want[1].ErrorInfo = engine.Failed, 100004, "room does not exist"
	for _, o := range want {
		record(t, l, o)
	}
	// Record returned: the lines must be in the file now, before Close.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), data)
	}
	for i, line := range lines {
		var got engine.Outcome
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("line %d: got %+v, want %+v", i, got, want[i])
		}
		for _, key := range []string{`"time":`, `"rule":`, `"event_id":`, `"action":"lock_seat"`, `"params":{"room_id":"room-test","index":2,"forbid_audio":true}`, `"outcome":`, `"attempts":`, `"latency_ms":`} {
			if !strings.Contains(line, key) {
				t.Errorf("line %d lacks %s: %s", i, key, line)
			}
		}
	}
	if got := metricValue(t, reg, "roomwarden_action_log_lines_total"); got != 2 {
		t.Errorf("lines_total = %v, want 2", got)
	}
	if got := metricValue(t, reg, "roomwarden_action_log_healthy"); got != 1 {
		t.Errorf("healthy = %v, want 1", got)
	}
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	l := openLog(t, Stdout, Config{Stdout: &buf})
	record(t, l, outcome(1))
	if err := l.Reopen(); err != nil {
		t.Errorf("Reopen on stdout: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"event_id":"evt-0001"`) || !strings.HasSuffix(buf.String(), "}\n") {
		t.Errorf("stdout got %q, want one JSON line for evt-0001", buf.String())
	}
}

func TestOpenFailsOnBadPath(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Path: filepath.Join(blocker, "actions.jsonl")}); err == nil {
		t.Fatal("Open under a regular file succeeded, want error")
	}
}

func TestReopenAfterRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	reg := prometheus.NewRegistry()
	l := openLog(t, path, Config{Registerer: reg, CheckInterval: time.Hour})
	record(t, l, outcome(1))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	record(t, l, outcome(2))
	if got, want := readLines(t, path+".1"), []string{"evt-0001"}; !reflect.DeepEqual(got, want) {
		t.Errorf("rotated file: got %v, want %v", got, want)
	}
	if got, want := readLines(t, path), []string{"evt-0002"}; !reflect.DeepEqual(got, want) {
		t.Errorf("new file: got %v, want %v", got, want)
	}
	if got := metricValue(t, reg, "roomwarden_action_log_reopens_total"); got != 1 {
		t.Errorf("reopens_total = %v, want 1", got)
	}
}

// TestDetectsRotation checks that the log follows a rename or removal of
// its path without being told.
func TestDetectsRotation(t *testing.T) {
	tests := []struct {
		name   string
		rotate func(path string) error
	}{
		{"rename", func(path string) error { return os.Rename(path, path+".1") }},
		{"remove", os.Remove},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "actions.jsonl")
			reg := prometheus.NewRegistry()
			l := openLog(t, path, Config{Registerer: reg, CheckInterval: 5 * time.Millisecond})
			record(t, l, outcome(1))
			if err := tc.rotate(path); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the log to reopen", func() bool {
				return metricValue(t, reg, "roomwarden_action_log_reopens_total") >= 1
			})
			record(t, l, outcome(2))
			if got, want := readLines(t, path), []string{"evt-0002"}; !reflect.DeepEqual(got, want) {
				t.Errorf("new file: got %v, want %v", got, want)
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDiskFullThenRecovery makes the log's path a symlink to /dev/full,
// which fails every write with ENOSPC even for root, then points the path
// at a real file again.
func TestDiskFullThenRecovery(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	l := openLog(t, path, Config{Registerer: reg, CheckInterval: time.Hour})

	for i := 1; i <= 2; i++ {
		if err := l.Record(outcome(i)); err == nil {
			t.Fatalf("Record %d to a full disk succeeded, want error", i)
		}
	}
	if err := l.Healthy(); err == nil {
		t.Error("Healthy() = nil while the disk is full")
	}
	if got := metricValue(t, reg, "roomwarden_action_log_write_errors_total"); got != 2 {
		t.Errorf("write_errors_total = %v, want 2", got)
	}
	if got := metricValue(t, reg, "roomwarden_action_log_healthy"); got != 0 {
		t.Errorf("healthy = %v, want 0", got)
	}

	if err := os.Remove(path); err != nil { // space freed: a real file again
		t.Fatal(err)
	}
	record(t, l, outcome(3))
	if err := l.Healthy(); err != nil {
		t.Errorf("Healthy() after recovery: %v", err)
	}
	if got := metricValue(t, reg, "roomwarden_action_log_healthy"); got != 1 {
		t.Errorf("healthy = %v after recovery, want 1", got)
	}
	if got, want := readLines(t, path), []string{"evt-0003"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after recovery: got %v, want %v", got, want)
	}
}

// TestUnwritableDirectoryThenRecovery replaces the log's directory with a
// regular file, so reopening fails with ENOTDIR even for root.
func TestUnwritableDirectoryThenRecovery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "actions.jsonl")
	l := openLog(t, path, Config{CheckInterval: time.Hour})
	record(t, l, outcome(1))

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("Reopen with the directory gone succeeded, want error")
	}
	if err := l.Record(outcome(2)); err == nil {
		t.Fatal("Record with the directory gone succeeded, want error")
	}
	if err := l.Healthy(); err == nil {
		t.Error("Healthy() = nil with the directory gone")
	}

	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	record(t, l, outcome(3))
	if err := l.Healthy(); err != nil {
		t.Errorf("Healthy() after recovery: %v", err)
	}
	if got, want := readLines(t, path), []string{"evt-0003"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after recovery: got %v, want %v", got, want)
	}
}

func TestConcurrentRecords(t *testing.T) {
	const workers, each = 8, 100
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	l := openLog(t, path, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := l.Record(outcome(w*each + i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Record: %v", err)
	}
	ids := readLines(t, path)
	if len(ids) != workers*each {
		t.Fatalf("got %d lines, want %d", len(ids), workers*each)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("duplicate line for %s", id)
		}
		seen[id] = true
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	l, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	record(t, l, outcome(1))
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Record(outcome(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
	if err := l.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close = %v, want ErrClosed", err)
	}
	if got, want := readLines(t, path), []string{"evt-0001"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestSecondLogOnOneRegistryFails: metrics are registered once; a second
// log on the same registry is a wiring mistake, reported as an error.
func TestSecondLogOnOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	openLog(t, filepath.Join(dir, "a.jsonl"), Config{Registerer: reg})
	_, err := Open(Config{Path: filepath.Join(dir, "b.jsonl"), Registerer: reg})
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Errorf("second Open on the same registry = %v, want AlreadyRegisteredError", err)
	}
}

func BenchmarkRecord(b *testing.B) {
	l, err := Open(Config{Path: filepath.Join(b.TempDir(), "actions.jsonl")})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	o := outcome(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Record(o); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
