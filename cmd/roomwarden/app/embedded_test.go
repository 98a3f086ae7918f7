package app

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestEmbeddedKeepsDataAcrossRestarts(t *testing.T) {
	store := t.TempDir()
	logger, _ := natsTestLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	e, err := StartEmbedded(EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: store}, logger)
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	js := embeddedJS(t, e)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("kept")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	e.Shutdown()

	e2, err := StartEmbedded(EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: store}, logger)
	if err != nil {
		t.Fatalf("StartEmbedded again: %v", err)
	}
	defer e2.Shutdown()
	st, err := embeddedJS(t, e2).Stream(ctx, "S")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	msg, err := st.GetMsg(ctx, 1)
	if err != nil || string(msg.Data) != "kept" {
		t.Errorf("message 1 after restart = %v, %v; want \"kept\"", msg, err)
	}
}

func embeddedJS(t *testing.T, e *Embedded) jetstream.JetStream {
	t.Helper()
	if !strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL() = %s, want nats://127.0.0.1:PORT", e.ClientURL())
	}
	nc, err := nats.Connect(e.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestStartEmbeddedErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name, listen, want string
	}{
		{"port in use", busy.Addr().String(), "address already in use"},
		{"no port", "127.0.0.1", "missing port in address"},
		{"bad port", "127.0.0.1:http", "bad port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := StartEmbedded(EmbeddedConfig{Listen: tc.listen, StoreDir: t.TempDir()}, nil)
			if err == nil {
				e.Shutdown()
				t.Fatal("StartEmbedded() error = nil")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"localhost", true}, {"127.1.2.3", true},
		{"", false}, {"0.0.0.0", false}, {"10.0.0.1", false}, {"example.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			if got := isLoopback(tc.host); got != tc.want {
				t.Errorf("isLoopback(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}
