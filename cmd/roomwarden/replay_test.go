package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/natstest"
)

// replayFixture is a NATS server whose ROOM_EVENTS holds a few events,
// a config file for it and the rules to replay.
type replayFixture struct {
	config, rules string
	js            jetstream.JetStream
}

func newReplayFixture(t *testing.T) replayFixture {
	t.Helper()
	s := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, s))
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "ROOM_EVENTS",
		Subjects: []string{"rooms.events.>"}}); err != nil {
		t.Fatal(err)
	}
	f := replayFixture{rules: writeRules(t, map[string]string{"mute.yaml": goodRule + "    cooldown: {key: event.room_id, for: 1m}\n"}), js: js}
	f.config = filepath.Join(t.TempDir(), "roomwarden.yaml")
	cfg := fmt.Sprintf("nats:\n  url: %s\nrules:\n  dir: %s\n", s.ClientURL(), f.rules)
	if err := os.WriteFile(f.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, room := range []string{"r1", "r1", "r2", "r1"} {
		data := fmt.Sprintf(`{"id": "evt-%d", "type": "member.enter", "time": "2026-11-25T21:00:%02dZ", "room_id": %q, "user": {"id": "u%d", "flagged": true}}`,
			i, i*10, room, i)
		if _, err := js.Publish(context.Background(), "rooms.events.member.enter", []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestReplayCommandText(t *testing.T) {
	f := newReplayFixture(t)
	code, stdout, stderr := runCmd(t, "replay", "--config", f.config)
	want := `replayed 4 events from 2026-11-25T21:00:00Z until 2026-11-25T21:00:30Z

RULE  MATCHED  ACTIONS  SUPPRESSED
mute  4        2        2
`
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("replay = %d\nstdout:\n%s\nstderr:\n%s\nwant 0\nstdout:\n%s", code, stdout, stderr, want)
	}
}

func TestReplayCommandJSON(t *testing.T) {
	f := newReplayFixture(t)
	baseline := writeRules(t, map[string]string{"mute.yaml": goodRule})
	labels := filepath.Join(t.TempDir(), "labels.jsonl")
	if err := os.WriteFile(labels, []byte(`{"event_id": "evt-0", "label": "abusive"}`+"\n"+
		`{"event_id": "evt-1", "label": "abusive"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "replay", "--config", f.config, "--baseline", baseline, "--labels", labels,
		"--from", "2026-11-25T20:00:00Z", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("replay = %d, stderr %q", code, stderr)
	}
	var got bytes.Buffer
	if err := json.Compact(&got, []byte(stdout)); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	want := `{"events":4,"from":"2026-11-25T20:00:00Z","until":"2026-11-25T21:00:30Z","rules":[{"rule":"mute",` +
		`"matched":4,"actions":2,"suppressed":2,"baseline_actions":4,"only_baseline":["evt-1","evt-3"],` +
		`"only_baseline_count":2,"precision":1,"recall":0.5}]}`
	if got.String() != want {
		t.Errorf("replay --json:\n%s\nwant:\n%s", got.String(), want)
	}
}

func TestReplayCommandErrors(t *testing.T) {
	f := newReplayFixture(t)
	broken := writeRules(t, map[string]string{"b.yaml": "rules:\n  - name: typo\n    on: [member.enter]\n" +
		"    when: event.usr.flagged\n    actions:\n      - lock_seat: {room_id: event.room_id, index: 2, forbid_audo: true}\n"})
	_, _, checkErrs := runCmd(t, "check", broken)
	badLabels := filepath.Join(t.TempDir(), "labels.jsonl")
	if err := os.WriteFile(badLabels, []byte(`{"event_id": "evt-0", "label": "abusive"}`+"\n"+`{"event_id": "evt-1"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	runCases(t, []cmdCase{
		{name: "rules with errors, as check prints them", args: []string{"replay", "--config", f.config, "--rules", broken},
			wantCode: 1, wantStderr: checkErrs},
		{name: "a baseline with errors", args: []string{"replay", "--config", f.config, "--baseline", broken},
			wantCode: 1, wantStderr: checkErrs},
		{name: "a bad labels line", args: []string{"replay", "--config", f.config, "--labels", badLabels},
			wantCode: 2, wantStderr: "roomwarden replay: " + badLabels + `:2: not a JSON object {"event_id": "…", "label": "abusive" | "benign"}: unexpected end of JSON input` + "\n"},
		{name: "since and from", args: []string{"replay", "--since", "1h", "--from", "2026-11-25T21:00:00Z"},
			wantCode: 2, wantStderr: "roomwarden replay: --since and --from both say where to start: give one\n"},
		{name: "a bad from", args: []string{"replay", "--from", "yesterday"},
			wantCode: 2, wantStderr: `roomwarden replay: --from "yesterday": want an RFC 3339 time, such as 2026-11-25T21:00:00Z` + "\n"},
		{name: "until before from", args: []string{"replay", "--from", "2026-11-25T21:00:00Z", "--until", "2026-11-25T20:00:00Z"},
			wantCode: 2, wantStderr: "roomwarden replay: --until 2026-11-25T20:00:00Z is before the start, 2026-11-25T21:00:00Z\n"},
		{name: "arguments", args: []string{"replay", "x"},
			wantCode: 2, wantStderr: "roomwarden replay: unexpected arguments [\"x\"]\n"},
		{name: "a missing config", args: []string{"replay", "--config", "no/such.yaml"},
			wantCode: 2, wantStderr: "roomwarden replay: config: open no/such.yaml: no such file or directory\n"},
	})
	t.Run("no daemon to read from", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "embedded.yaml")
		if err := os.WriteFile(cfg, []byte("nats:\n  embedded: {listen: 127.0.0.1:1}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCmd(t, "replay", "--config", cfg, "--rules", f.rules)
		if code != 1 || !strings.HasPrefix(stderr, "roomwarden replay: connect to nats nats://127.0.0.1:1: ") ||
			!strings.Contains(stderr, "hint: nats.url is empty") {
			t.Errorf("replay = %d, stderr %q; want 1, the address tried and a hint", code, stderr)
		}
	})
	t.Run("an empty range", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, "replay", "--config", f.config, "--from", later)
		if code != 1 || !strings.HasPrefix(stdout, "no events to replay from "+later+": the stream holds messages stored from ") || stderr != "" {
			t.Errorf("replay = %d\nstdout:\n%s\nstderr:\n%s\nwant 1 and the range's bounds", code, stdout, stderr)
		}
	})
}

func TestReplaySince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f := replayFlags{since: 24 * time.Hour, until: "2026-11-26T11:00:00Z"}
	rg, err := f.timeRange(now)
	if err != nil || !rg.From.Equal(now.Add(-24*time.Hour)) || !rg.Until.Equal(now.Add(-time.Hour)) {
		t.Errorf("--since 24h --until 11:00 at %s: %+v, %v; want from 24h before, until 11:00", now, rg, err)
	}
	if _, err := (&replayFlags{since: -time.Hour}).timeRange(now); err == nil {
		t.Error("--since -1h: no error")
	}
}
