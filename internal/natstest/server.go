package natstest

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long a test waits for a server to accept clients.
const readyTimeout = 10 * time.Second

// Option changes the options of a server started by RunServer or Restart.
type Option func(*server.Options)

// WithPort listens on a fixed port instead of a random one.
func WithPort(port int) Option {
	return func(o *server.Options) { o.Port = port }
}

// WithStoreDir keeps JetStream data in dir instead of a fresh temporary
// directory.
func WithStoreDir(dir string) Option {
	return func(o *server.Options) { o.StoreDir = dir }
}

// WithTLS requires TLS from clients, served with cfg.
func WithTLS(cfg *tls.Config) Option {
	return func(o *server.Options) {
		o.TLSConfig = cfg
		o.TLS = true
		o.TLSTimeout = 5
	}
}

// WithUser requires clients to authenticate with user and password.
func WithUser(user, password string) Option {
	return func(o *server.Options) {
		o.Username = user
		o.Password = password
	}
}

// RunServer starts a nats-server with JetStream on 127.0.0.1, a random
// port and a temporary store directory, and shuts it down when the test
// ends.
func RunServer(t testing.TB, opts ...Option) *server.Server {
	t.Helper()
	o := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	for _, opt := range opts {
		opt(o)
	}
	return start(t, o)
}

// Restart shuts s down and starts a new server on the same port and
// JetStream store directory, so clients reconnect and find their streams
// and consumers. Options other than port and store (TLS, users) are not
// carried over: pass them again in opts.
func Restart(t testing.TB, s *server.Server, opts ...Option) *server.Server {
	t.Helper()
	port := s.Addr().(*net.TCPAddr).Port
	// StoreDir reports the "jetstream" subdirectory the server adds.
	store := filepath.Dir(s.StoreDir())
	s.Shutdown()
	s.WaitForShutdown()
	all := append([]Option{WithPort(port), WithStoreDir(store)}, opts...)
	return RunServer(t, all...)
}

func start(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(readyTimeout) {
		t.Fatalf("natstest: server not ready within %s", readyTimeout)
	}
	return s
}
