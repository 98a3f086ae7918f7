package app

import (
	"bytes"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/roomwarden/roomwarden/internal/natstest"
)

// syncLogBuffer is a goroutine-safe log destination.
type syncLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func natsTestLogger() (*slog.Logger, *syncLogBuffer) {
	b := &syncLogBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func waitNATS(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func connectNATSForTest(t *testing.T, url string, o NATSOptions) (*nats.Conn, *syncLogBuffer) {
	t.Helper()
	logger, logs := natsTestLogger()
	o.URL, o.Logger = url, logger
	nc, err := ConnectNATS(o)
	if err != nil {
		t.Fatalf("ConnectNATS: %v", err)
	}
	t.Cleanup(nc.Close)
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return nc, logs
}

func TestConnectNATSWithTLS(t *testing.T) {
	certs := natstest.NewCerts(t)
	s := natstest.RunServer(t, natstest.WithTLS(certs.Server))

	nc, _ := connectNATSForTest(t, s.ClientURL(), NATSOptions{CAFile: certs.CAFile})
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("connection is not TLS: %v", err)
	}

	other := natstest.NewCerts(t)
	_, err := ConnectNATS(NATSOptions{URL: s.ClientURL(), CAFile: other.CAFile})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("ConnectNATS with the wrong CA = %v, want x509.UnknownAuthorityError", err)
	}
}

func TestConnectNATSWithUser(t *testing.T) {
	s := natstest.RunServer(t, natstest.WithUser("roomwarden", "s3cret-pw"))
	t.Setenv("RW_TEST_NATS_PW", "s3cret-pw")
	t.Setenv("RW_TEST_NATS_BAD", "wrong-pw")
	tests := []struct {
		name    string
		o       NATSOptions
		wantErr string
	}{
		{"right password", NATSOptions{User: "roomwarden", PasswordEnv: "RW_TEST_NATS_PW"}, ""},
		{"wrong password", NATSOptions{User: "roomwarden", PasswordEnv: "RW_TEST_NATS_BAD"}, "nats: Authorization Violation"},
		{"unset password variable", NATSOptions{User: "roomwarden", PasswordEnv: "RW_TEST_NATS_UNSET"},
			`nats.password_env: environment variable "RW_TEST_NATS_UNSET" is empty or unset`},
		{"missing creds file", NATSOptions{CredsFile: "/nonexistent/rw.creds"}, "nats.creds_file: stat /nonexistent/rw.creds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := natsTestLogger()
			o := tc.o
			o.URL, o.Logger = s.ClientURL(), logger
			nc, err := ConnectNATS(o)
			if err == nil {
				nc.Close()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ConnectNATS: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ConnectNATS error = %v, want %q", err, tc.wantErr)
			}
			for _, secret := range []string{"s3cret-pw", "wrong-pw"} {
				if strings.Contains(logs.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Errorf("password leaked in logs or error: %s %v", logs, err)
				}
			}
		})
	}
}

func TestConnectNATSReconnectsAfterRestart(t *testing.T) {
	s := natstest.RunServer(t)
	nc, logs := connectNATSForTest(t, s.ClientURL(), NATSOptions{Name: "rw-test", ReconnectWait: 20 * time.Millisecond})
	natstest.Restart(t, s)
	waitNATS(t, "a reconnect", func() bool { return nc.Stats().Reconnects >= 1 && nc.IsConnected() })
	if err := nc.Publish("x", []byte("y")); err != nil {
		t.Errorf("publish after reconnect: %v", err)
	}
	waitNATS(t, "the reconnect to be logged", func() bool {
		return strings.Contains(logs.String(), "nats disconnected") && strings.Contains(logs.String(), "nats reconnected")
	})
}

func TestConnectNATSBeforeServerStarts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	logger, logs := natsTestLogger()
	nc, err := ConnectNATS(NATSOptions{URL: "nats://127.0.0.1:" + strconv.Itoa(port), ReconnectWait: 20 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatalf("ConnectNATS with no server yet = %v, want a connection that keeps trying", err)
	}
	t.Cleanup(nc.Close)
	if nc.IsConnected() {
		t.Fatal("connected with no server running")
	}
	if !strings.Contains(logs.String(), "nats not reachable yet") {
		t.Errorf("logs = %s, want a warning that nats is not reachable", logs)
	}
	natstest.RunServer(t, natstest.WithPort(port))
	waitNATS(t, "the late connection", nc.IsConnected)
}
