package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ruleYAML is a valid rules file with one rule of the given name.
func ruleYAML(name string) string {
	return `rules:
  - name: ` + name + `
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
`
}

const waitTimeout = 10 * time.Second

// confirmRecheck is the recheck period of tests that remove every rule
// of a file: the loss is applied once it has lasted that long.
const confirmRecheck = 200 * time.Millisecond

// startWatcher starts a Watcher on dir and returns it with the channel
// of its reload results.
func startWatcher(t *testing.T, dir string, recheck time.Duration) (*Watcher, <-chan ReloadResult) {
	t.Helper()
	results := make(chan ReloadResult, 100)
	w, err := NewWatcher(WatcherConfig{Dir: dir, OnReload: func(r ReloadResult) { results <- r },
		Debounce: 50 * time.Millisecond, Recheck: recheck})
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	runWatcher(t, w)
	return w, results
}

// runWatcher runs w until the test ends.
func runWatcher(t *testing.T, w *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-w.ready:
	case <-time.After(waitTimeout):
		t.Fatal("watcher did not start")
	}
}

// waitResult waits for a reload result satisfying ok, skipping others.
func waitResult(t *testing.T, results <-chan ReloadResult, what string, ok func(ReloadResult) bool) ReloadResult {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case r := <-results:
			if ok(r) {
				return r
			}
		case <-deadline:
			t.Fatalf("no reload %s within %v", what, waitTimeout)
		}
	}
}

func changed(r ReloadResult) bool { return r.Changed && r.Err == nil }

// ruleNames lists the names of the rules in s.
func ruleNames(s *Set) string {
	var names []string
	for _, r := range s.Rules() {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

func TestWatcherReloads(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   string
	}{
		{
			name:   "in-place write",
			change: func(t *testing.T, dir string) { writeFile(t, dir, "a.yaml", ruleYAML("a2")) },
			want:   "a2,b",
		},
		{
			name:   "atomic rename",
			change: func(t *testing.T, dir string) { writeAtomic(t, dir, "a.yaml", ruleYAML("renamed")) },
			want:   "renamed,b",
		},
		{
			name: "new file",
			change: func(t *testing.T, dir string) {
				writeFile(t, dir, "c.yml", ruleYAML("c"))
			},
			want: "a,b,c",
		},
		{
			name: "delete",
			change: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			want: "a",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a.yaml", ruleYAML("a"))
			writeFile(t, dir, "b.yaml", ruleYAML("b"))
			// A delete is applied by the recheck that confirms it.
			w, results := startWatcher(t, dir, confirmRecheck)
			old := w.Current()
			tc.change(t, dir)
			r := waitResult(t, results, "to "+tc.want, func(r ReloadResult) bool {
				return changed(r) && ruleNames(w.Current()) == tc.want
			})
			if r.Hash != w.Current().Hash() || r.Hash == old.Hash() || r.Rules != w.Current().Len() {
				t.Errorf("result %+v does not describe the new set (hash %s)", r, w.Current().Hash())
			}
		})
	}
}

func TestWatcherDeleteAndRecreate(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", ruleYAML("a"))
	writeFile(t, dir, "b.yaml", ruleYAML("b"))
	w, results := startWatcher(t, dir, confirmRecheck)
	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	waitResult(t, results, "after the delete", func(r ReloadResult) bool { return changed(r) && r.Rules == 1 })
	writeFile(t, dir, "b.yaml", ruleYAML("b-again"))
	waitResult(t, results, "after the recreate", func(r ReloadResult) bool {
		return changed(r) && ruleNames(w.Current()) == "a,b-again"
	})
}

// TestWatcherConfigMapSwap mimics how the kubelet updates a ConfigMap
// volume: files are links through the ..data link, which is swapped by
// rename to a new timestamped directory.
func TestWatcherConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "..2026_01_01/rules.yaml", ruleYAML("v1"))
	symlink(t, "..2026_01_01", filepath.Join(dir, "..data"))
	symlink(t, "..data/rules.yaml", filepath.Join(dir, "rules.yaml"))
	w, results := startWatcher(t, dir, time.Hour)
	if got := ruleNames(w.Current()); got != "v1" {
		t.Fatalf("initial rules = %s, want v1", got)
	}

	writeFile(t, dir, "..2026_01_02/rules.yaml", ruleYAML("v2"))
	symlink(t, "..2026_01_02", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01")); err != nil {
		t.Fatal(err)
	}
	waitResult(t, results, "after the ..data swap", changed)
	if got := ruleNames(w.Current()); got != "v2" {
		t.Errorf("rules = %s, want v2", got)
	}
}

// writeAtomic replaces dir/name the way editors save: write a hidden
// temporary file, then rename it over the old one. Tests that assert on
// the first reload use it, so no reload can see a half-written file.
func writeAtomic(t *testing.T, dir, name, data string) {
	t.Helper()
	tmp := writeFile(t, dir, "."+name+".tmp", data)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherBrokenFileKeepsOldSet(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", ruleYAML("a"))
	w, results := startWatcher(t, dir, time.Hour)
	old := w.Current()

	writeAtomic(t, dir, "a.yaml", strings.Replace(ruleYAML("a"), "event.user.flagged", "event.usr.flagged", 1))
	r := waitResult(t, results, "with an error", func(r ReloadResult) bool { return r.Err != nil })
	if !strings.Contains(r.Err.Error(), `a.yaml:4:17: when: unknown field "usr" in event`) {
		t.Errorf("error = %v, want the position of the typo", r.Err)
	}
	if r.Changed || w.Current() != old {
		t.Error("a broken file replaced the set in use")
	}

	writeAtomic(t, dir, "a.yaml", ruleYAML("fixed"))
	waitResult(t, results, "after the fix", changed)
	if got := ruleNames(w.Current()); got != "fixed" {
		t.Errorf("rules = %s, want fixed", got)
	}
}

func TestWatcherNoOpSave(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", ruleYAML("a"))
	w, results := startWatcher(t, dir, time.Hour)
	old := w.Current()
	writeAtomic(t, dir, "a.yaml", ruleYAML("a"))
	r := waitResult(t, results, "after the save", func(ReloadResult) bool { return true })
	if r.Changed || r.Err != nil || r.Hash != old.Hash() {
		t.Errorf("result = %+v, want unchanged with hash %s", r, old.Hash())
	}
	if w.Current() != old {
		t.Error("a no-op save swapped the set")
	}
}

func TestWatcherDirectoryRecreated(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "rules")
	writeFile(t, dir, "a.yaml", ruleYAML("a"))
	w, results := startWatcher(t, dir, 100*time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitResult(t, results, "failing while the directory is gone", func(r ReloadResult) bool { return r.Err != nil })
	if got := ruleNames(w.Current()); got != "a" {
		t.Errorf("rules = %s while the directory is gone, want the old set a", got)
	}
	writeFile(t, dir, "a.yaml", ruleYAML("back"))
	waitResult(t, results, "after the directory is back", func(r ReloadResult) bool {
		return changed(r) && ruleNames(w.Current()) == "back"
	})
	// The watch is re-added: later edits still reload.
	writeAtomic(t, dir, "a.yaml", ruleYAML("edited"))
	waitResult(t, results, "after editing the new directory", func(r ReloadResult) bool {
		return changed(r) && ruleNames(w.Current()) == "edited"
	})
}

func TestWatcherManualReload(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", ruleYAML("a"))
	var reported []ReloadResult
	w, err := NewWatcher(WatcherConfig{Dir: dir, OnReload: func(r ReloadResult) { reported = append(reported, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if r := w.Reload(); r.Changed || r.Err != nil || r.Trigger != "manual" {
		t.Errorf("Reload() of unchanged files = %+v, want unchanged", r)
	}
	writeFile(t, dir, "a.yaml", ruleYAML("b"))
	if r := w.Reload(); !r.Changed || r.Rules != 1 {
		t.Errorf("Reload() after a change = %+v, want changed", r)
	}
	if got := ruleNames(w.Current()); got != "b" {
		t.Errorf("rules = %s, want b", got)
	}
	if len(reported) != 2 {
		t.Errorf("OnReload called %d times, want 2", len(reported))
	}
}

func TestNewWatcherRejectsBadRules(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", "rules: [{name: x}]\n")
	if _, err := NewWatcher(WatcherConfig{Dir: dir}); err == nil {
		t.Fatal("NewWatcher accepted a rule with no on, when or actions")
	}
}

// threeRules is a rules file of three rules named after tag, and the
// length of its first rule: a prefix that is a valid file of one rule.
func threeRules(tag string) (data string, firstRule int) {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := 1; i <= 3; i++ {
		if i == 2 {
			firstRule = b.Len()
		}
		fmt.Fprintf(&b, "  - name: %s-%d\n    on: [member.enter]\n    when: event.user.flagged\n"+
			"    actions: [{lock_seat: {room_id: event.room_id, index: %d, forbid_audio: true}}]\n", tag, i, i)
	}
	return b.String(), firstRule
}

// rewriteInPlace saves data over path as `cat >` and editors that save
// in place do: truncate, then write in two pieces, pausing between.
func rewriteInPlace(path, data string, firstPiece int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	time.Sleep(time.Millisecond)
	if _, err := f.WriteString(data[:firstPiece]); err != nil {
		f.Close()
		return err
	}
	time.Sleep(time.Millisecond)
	if _, err := f.WriteString(data[firstPiece:]); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TestWatcherInPlaceRewrites is the probe of issue 17: a rules file
// rewritten in place hundreds of times while reloads run, by hand and
// by the watch. Between a truncation and the end of its write the file
// reads empty or with one rule; the set in use must always hold the
// three rules every complete version has.
func TestWatcherInPlaceRewrites(t *testing.T) {
	dir := t.TempDir()
	data, _ := threeRules("v0")
	path := writeFile(t, dir, "a.yaml", data)
	const recheck = 2 * time.Second
	w, err := NewWatcher(WatcherConfig{Dir: dir, Debounce: 20 * time.Millisecond, Recheck: recheck})
	if err != nil {
		t.Fatal(err)
	}
	runWatcher(t, w)

	const rewrites = 300
	done := make(chan struct{})
	finished := make(chan struct{}, 3) // one per goroutine
	var final string
	var longestSave time.Duration // from a truncation to the end of its write
	go func() {                   // the writer
		defer func() { finished <- struct{}{} }()
		defer close(done)
		for i := range rewrites {
			data, first := threeRules(fmt.Sprintf("v%d", i%2+1))
			final = data
			start := time.Now()
			if err := rewriteInPlace(path, data, first); err != nil {
				t.Error(err)
				return
			}
			longestSave = max(longestSave, time.Since(start))
			time.Sleep(5 * time.Millisecond) // 300 saves in about 3 s, as in the probe
		}
	}()
	var reloads, failed, changed int
	go func() { // SIGHUPs
		defer func() { finished <- struct{}{} }()
		for {
			select {
			case <-done:
				return
			default:
			}
			r := w.Reload()
			reloads++
			if r.Err != nil {
				failed++
			}
			if r.Changed {
				changed++
			}
		}
	}()
	fewest := 3
	go func() { // the events, sampling the set in use
		defer func() { finished <- struct{}{} }()
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Microsecond):
				fewest = min(fewest, w.Current().Len())
			}
		}
	}()
	for range 3 {
		<-finished
	}
	fewest = min(fewest, w.Current().Len())
	t.Logf("%d rewrites, the longest taking %v; %d manual reloads: %d failed, %d changed the set",
		rewrites, longestSave, reloads, failed, changed)
	switch {
	case fewest == 3:
	case longestSave >= recheck:
		// The machine stalled the writer with the file truncated for as
		// long as a real emptying must last to be applied.
		t.Logf("the set in use held %d rules after a save stalled for %v", fewest, longestSave)
	default:
		t.Errorf("the set in use held %d rules at some point, want always 3", fewest)
	}
	deadline := time.Now().Add(waitTimeout)
	for w.Current().Hash() != hashSources([]Source{{Path: path, Data: []byte(final)}}) {
		if time.Now().After(deadline) {
			t.Fatalf("the last version was not loaded within %v; rules: %s", waitTimeout, ruleNames(w.Current()))
		}
		w.Reload()
	}
}

// TestWatcherConfirmsLostRules: a file that lost its rules is applied
// only by a reload a recheck period after the first one saw the loss,
// with nothing written in between.
func TestWatcherConfirmsLostRules(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"emptied", func(t *testing.T, path string) { writeFile(t, filepath.Dir(path), "a.yaml", "") }},
		{"no rules", func(t *testing.T, path string) { writeFile(t, filepath.Dir(path), "a.yaml", "rules: []\n") }},
		{"deleted", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "a.yaml", ruleYAML("a"))
			writeFile(t, dir, "b.yaml", ruleYAML("b"))
			w, err := NewWatcher(WatcherConfig{Dir: dir, Recheck: confirmRecheck})
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, path)
			first := w.Reload()
			if first.Err != nil || !strings.Contains(first.Pending, "a.yaml lost all its rules (1)") || first.Changed {
				t.Fatalf("first Reload() = %+v, want the loss held back", first)
			}
			if got := ruleNames(w.Current()); got != "a,b" {
				t.Fatalf("rules = %s after the first reload, want a,b", got)
			}
			deadline := time.Now().Add(waitTimeout)
			for r := first; !r.Changed; r = w.Reload() {
				if time.Now().After(deadline) {
					t.Fatalf("the loss was not applied within %v: %+v", waitTimeout, r)
				}
				time.Sleep(confirmRecheck / 4)
			}
			if got := ruleNames(w.Current()); got != "b" {
				t.Errorf("rules = %s, want b", got)
			}
		})
	}
}

func TestLostRules(t *testing.T) {
	a, b := ruleYAML("a"), ruleYAML("b")
	set := func(files ...string) *Set {
		var srcs []Source
		for i := 0; i < len(files); i += 2 {
			srcs = append(srcs, Source{Path: files[i], Data: []byte(files[i+1])})
		}
		s, err := Compile(srcs...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cur := set("a.yaml", a, "b.yaml", b, "lists.yaml", "lists: {x: [y]}\n")
	tests := []struct {
		name string
		next *Set
		want string
	}{
		{"same", set("a.yaml", a, "b.yaml", b), ""},
		{"renamed rule", set("a.yaml", ruleYAML("a2"), "b.yaml", b), ""},
		{"emptied", set("a.yaml", "", "b.yaml", b), "a.yaml lost all its rules (1)"},
		{"deleted", set("b.yaml", b), "a.yaml lost all its rules (1)"},
		{"new file", set("a.yaml", a, "b.yaml", b, "c.yaml", ruleYAML("c")), ""},
		{"a file without rules", set("a.yaml", a, "b.yaml", b, "lists.yaml", ""), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := lostRules(cur, tc.next); got != tc.want {
				t.Errorf("lostRules = %q, want %q", got, tc.want)
			}
		})
	}
}
