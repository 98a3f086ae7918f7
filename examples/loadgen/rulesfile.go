package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

func runRules(args []string, stdout io.Writer, _ *slog.Logger) error {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	n := fs.Int("n", 100, "number of rules")
	out := fs.String("out", "", "directory to write bench.yaml into (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	path, err := writeRules(*out, *n)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, path)
	return nil
}

// writeRules writes n generated rules to dir/bench.yaml.
func writeRules(dir string, n int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("rules dir: %w", err)
	}
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, benchtest.RulesYAML(n), 0o644); err != nil {
		return "", fmt.Errorf("write rules: %w", err)
	}
	return path, nil
}
