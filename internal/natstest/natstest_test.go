package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRestartKeepsStreams(t *testing.T) {
	s := RunServer(t)
	nc := Connect(t, s, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	js := JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "s.a", []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	s2 := Restart(t, s)
	if got, want := s2.ClientURL(), s.ClientURL(); got != want {
		t.Errorf("restarted url = %s, want %s", got, want)
	}
	st, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	if got := st.CachedInfo().State.Msgs; got != 1 {
		t.Errorf("messages after restart = %d, want 1", got)
	}
}

func TestTLSAndUser(t *testing.T) {
	c := NewCerts(t)
	s := RunServer(t, WithTLS(c.Server), WithUser("u", "p"))
	tests := []struct {
		name    string
		opts    []nats.Option
		wantErr bool
	}{
		{"ca and password", []nats.Option{nats.RootCAs(c.CAFile), nats.UserInfo("u", "p")}, false},
		{"no ca", []nats.Option{nats.UserInfo("u", "p")}, true},
		{"wrong password", []nats.Option{nats.RootCAs(c.CAFile), nats.UserInfo("u", "bad")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := nats.Connect(s.ClientURL(), tc.opts...)
			if err == nil {
				nc.Close()
			}
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Errorf("connect error = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
