package daemontest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/roomwarden/roomwarden/engine"
)

// Replica is one of several roomwarden processes running the harness's
// config, each with its own action log, config file and Room Engine
// identifier (so that every call at the simulator says which replica
// made it).
type Replica struct {
	*Daemon
	Name       string
	Identifier string
	LogPath    string
}

// StartReplica runs the binary as replica name: h.Config with the
// action log <Dir>/actions-<name>.jsonl and roomengine.identifier
// identifier, written to <Dir>/<name>.yaml. It waits until the daemon
// reports it is running.
func (h *Harness) StartReplica(bin, name, identifier string) *Replica {
	h.T.Helper()
	cfg := *h.Config
	cfg.ActionLog.Path = filepath.Join(h.Dir, "actions-"+name+".jsonl")
	cfg.RoomEngine.Identifier = identifier
	data, err := yaml.Marshal(&cfg)
	if err != nil {
		h.T.Fatalf("encode config: %v", err)
	}
	path := filepath.Join(h.Dir, name+".yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		h.T.Fatalf("write config: %v", err)
	}
	p := StartProcess(h.T, bin, nil, nil, "run", "--config", path, "--log-format", "json")
	d := &Daemon{Process: p, t: h.T}
	d.httpAddr = d.waitRunning()
	return &Replica{Daemon: d, Name: name, Identifier: identifier, LogPath: cfg.ActionLog.Path}
}

// ActionLog reads every outcome in the replica's action log so far.
func (r *Replica) ActionLog() []engine.Outcome {
	r.t.Helper()
	data, err := os.ReadFile(r.LogPath)
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatalf("read action log %s: %v", r.LogPath, err)
	}
	var out []engine.Outcome
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o engine.Outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			r.t.Fatalf("%s: action log line %q: %v", r.Name, sc.Text(), err)
		}
		out = append(out, o)
	}
	return out
}
