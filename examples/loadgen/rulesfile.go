package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

func runRules(args []string, stdout io.Writer, _ *slog.Logger) error {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	n := fs.Int("n", 100, "number of rules")
	windows := fs.Int("windows", 0, "of which this many read windows (the rules of e2e and latency -windows)")
	state := fs.String("state", "", "window or cooldown: the rules of e2e and latency -state")
	out := fs.String("out", "", "directory to write bench.yaml into (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	f := daemonFlags{rules: *n, matchEvery: 100, win: windowFlags{windows: *windows, share: 0.1, keys: 1}, state: *state}
	if err := f.check(); err != nil {
		return err
	}
	path, err := writeRulesFile(*out, f.rulesYAML())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, path)
	return nil
}

// writeRulesFile writes a rules file to dir/bench.yaml.
func writeRulesFile(dir string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("rules dir: %w", err)
	}
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("write rules: %w", err)
	}
	return path, nil
}
