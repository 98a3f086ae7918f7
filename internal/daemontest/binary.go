package daemontest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// daemonPackage is the import path of the roomwarden command.
const daemonPackage = "github.com/roomwarden/roomwarden/cmd/roomwarden"

// BuildDaemon builds the roomwarden binary into dir and returns its path.
// It takes no testing.TB so that a TestMain can call it once.
func BuildDaemon(dir string) (string, error) {
	bin := filepath.Join(dir, "roomwarden")
	cmd := exec.Command("go", "build", "-o", bin, daemonPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", daemonPackage, err, out)
	}
	return bin, nil
}

// WriteConfig writes h.Config as a YAML config file in h.Dir and returns
// its path.
func (h *Harness) WriteConfig() string {
	h.T.Helper()
	data, err := yaml.Marshal(h.Config)
	if err != nil {
		h.T.Fatalf("encode config: %v", err)
	}
	path := filepath.Join(h.Dir, "config.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		h.T.Fatalf("write config: %v", err)
	}
	return path
}

// Daemon is the roomwarden binary running as a child process on the
// harness's config, rules, simulator and action log.
type Daemon struct {
	*Process
	t        testing.TB
	httpAddr string
}

// StartBinary writes h.Config to a file and runs `bin run --config FILE`
// with JSON logs (into Daemon.Output) and env added to the test's
// environment, waiting until the daemon reports it is running.
// h.Config.NATS.URL should name a server that outlives the daemon (see
// StartNATSServer) when the test restarts it.
func (h *Harness) StartBinary(bin string, env ...string) *Daemon {
	h.T.Helper()
	cfg := h.WriteConfig()
	p := StartProcess(h.T, bin, env, nil, "run", "--config", cfg, "--log-format", "json")
	d := &Daemon{Process: p, t: h.T}
	d.httpAddr = d.waitRunning()
	return d
}

// waitRunning waits for the "roomwarden running" log line and returns
// the operations endpoint's address from it.
func (d *Daemon) waitRunning() string {
	d.t.Helper()
	deadline := time.Now().Add(processWait)
	for time.Now().Before(deadline) {
		if addr, ok := runningAddr(d.Output.String()); ok {
			return addr
		}
		if d.Exited() {
			d.t.Fatalf("roomwarden exited before running:\n%s", d.Output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("roomwarden not running after %s:\n%s", processWait, d.Output.String())
	return ""
}

// runningAddr finds the http attribute of the "roomwarden running" line.
func runningAddr(logs string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			HTTP string `json:"http"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "roomwarden running" && line.HTTP != "" {
			return line.HTTP, true
		}
	}
	return "", false
}

// HTTPAddr is the daemon's operations endpoint.
func (d *Daemon) HTTPAddr() string { return d.httpAddr }

// Get fetches a path on the daemon's operations endpoint.
func (d *Daemon) Get(path string) (int, string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + d.httpAddr + path)
	if err != nil {
		return 0, "", fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Metric reads one sample of /metrics (see MetricValue). A scrape that
// fails, or a series the daemon does not expose, fails the test: a
// reading of zero must mean zero.
func (d *Daemon) Metric(series string) float64 {
	d.t.Helper()
	code, body, err := d.Get("/metrics")
	if err != nil || code != http.StatusOK {
		d.t.Fatalf("scrape /metrics: status %d, %v", code, err)
	}
	v := MetricValue(body, series)
	if v == -1 {
		d.t.Fatalf("/metrics has no series %s", series)
	}
	return v
}

// MetricValue returns the value of the first sample in a /metrics body
// whose line starts with series (name and labels as exposed), or -1.
func MetricValue(body, series string) float64 {
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}
