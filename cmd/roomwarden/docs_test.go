package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
)

// The README is the user's reference: every metric the daemon exports
// and every config key it reads must be in it.

var (
	metricNameRE = regexp.MustCompile(`Name:\s+"(roomwarden_[a-z_]+)"`)
	backquotedRE = regexp.MustCompile("`([^`\n]+)`")
	bracesRE     = regexp.MustCompile(`^([a-z_.]*)\{([a-z_,]+)\}(.*)$`)
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeListsEveryMetric finds every metric name declared in the
// daemon's packages and looks for it in the README, where the metrics
// table lists names without the roomwarden_ prefix.
func TestReadmeListsEveryMetric(t *testing.T) {
	doc := readme(t)
	var names []string
	for _, dir := range []string{"../../engine", "../../sinks", "../../rules", "."} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			for _, m := range metricNameRE.FindAllStringSubmatch(string(src), -1) {
				names = append(names, m[1])
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names) < 40 {
		t.Fatalf("found %d metric names; the scan is broken", len(names))
	}
	documented := backquoted(doc)
	for _, n := range names {
		short := strings.TrimPrefix(n, "roomwarden_")
		if !documented[n] && !documented[short] {
			t.Errorf("metric %s is not in the README", n)
		}
	}
	// And the metrics table names nothing that is gone.
	_, table, ok := strings.Cut(doc, "| area | metrics |")
	if !ok {
		t.Fatal("the README has no metrics table (| area | metrics |)")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	for _, m := range backquotedRE.FindAllStringSubmatch(table, -1) {
		name, _, _ := strings.Cut(m[1], "{")
		if strings.Contains(name, " ") || strings.Contains(name, "=") {
			continue // prose, such as le="0.005"
		}
		if !slices.Contains(names, "roomwarden_"+name) {
			t.Errorf("the README's metrics table lists %s, which the daemon does not export", name)
		}
	}
}

// TestReadmeListsEveryConfigKey walks the config struct's yaml keys and
// looks for each dotted path in the README, where the config table may
// group keys as `nats.consumer.{ack_wait,max_deliver}`.
func TestReadmeListsEveryConfigKey(t *testing.T) {
	documented := backquoted(readme(t))
	keys := configKeys(reflect.TypeOf(app.Config{}), "")
	if len(keys) < 40 {
		t.Fatalf("found %d config keys; the walk is broken", len(keys))
	}
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("config key %s is not in the README", k)
		}
	}
}

// configKeys returns the dotted yaml paths of t's leaves.
func configKeys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		if f.Type.Kind() == reflect.Struct {
			out = append(out, configKeys(f.Type, path+".")...)
			continue
		}
		out = append(out, path)
	}
	return out
}

// backquoted returns the README's backquoted words, with every config
// group `a.{b,c}` expanded to a.b and a.c, and a metric's labels
// `name{rule,outcome}` dropped.
func backquoted(doc string) map[string]bool {
	out := make(map[string]bool)
	for _, m := range backquotedRE.FindAllStringSubmatch(doc, -1) {
		for _, w := range strings.Fields(m[1]) {
			for _, e := range expand(strings.Trim(w, "(),;:")) {
				out[e] = true
			}
		}
	}
	return out
}

func expand(w string) []string {
	m := bracesRE.FindStringSubmatch(w)
	if m == nil {
		return []string{w}
	}
	if m[1] != "" && !strings.HasSuffix(m[1], ".") {
		return []string{w, m[1]}
	}
	var out []string
	for alt := range strings.SplitSeq(m[2], ",") {
		out = slices.Concat(out, expand(m[1]+alt+m[3]))
	}
	return out
}
