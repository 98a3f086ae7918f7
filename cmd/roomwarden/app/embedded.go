package app

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/roomwarden/roomwarden/engine/decode"
)

// embeddedReadyTimeout bounds the embedded server's start.
const embeddedReadyTimeout = 10 * time.Second

// embeddedMaxPayload is the largest message the embedded server accepts:
// four times the decoder's limit (decode.MaxEventBytes), so an oversized
// event reaches the daemon and is dead-lettered with its reason instead
// of being refused to the producer by NATS's default 1 MiB limit.
const embeddedMaxPayload = 4 * decode.MaxEventBytes

// Embedded is the in-process NATS server with JetStream that runs when
// nats.url is empty, so one command runs everything on one machine.
type Embedded struct {
	s *server.Server
}

// StartEmbedded starts a NATS server with JetStream storing its data in
// cfg.StoreDir and listening on cfg.Listen (host:port; port 0 picks a
// free one) so producers and `nats pub` can reach it. It has no
// authentication: a listen address beyond loopback is allowed but logged
// as a warning. nats-server's own log goes to logger (notices at debug
// level; nil discards).
func StartEmbedded(cfg EmbeddedConfig, logger *slog.Logger) (*Embedded, error) {
	listen, storeDir := cfg.Listen, cfg.StoreDir
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	host, port, err := splitListen(listen)
	if err != nil {
		return nil, err
	}
	if !isLoopback(host) {
		logger.Warn("embedded nats listens beyond loopback without authentication; anyone who can reach it can publish events", "listen", listen)
	}
	if err := checkFree(listen, port); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return nil, fmt.Errorf("nats.embedded.store_dir: %w", err)
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "roomwarden-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
	})
	if err != nil {
		return nil, err
	}
	s.SetLoggerV2(natsLog{logger}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(embeddedReadyTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("not ready on %s within %s", listen, embeddedReadyTimeout)
	}
	logger.Info("embedded nats started", "url", s.ClientURL(), "store_dir", storeDir)
	return &Embedded{s: s}, nil
}

func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("nats.embedded.listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("nats.embedded.listen %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// checkFree fails fast, with a clear message, when the port is taken
// (nats-server would only log it).
func checkFree(listen string, port int) error {
	if port == server.RANDOM_PORT {
		return nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return &ListenError{Key: "nats.embedded.listen", Addr: listen, Err: err}
	}
	return ln.Close()
}

// ClientURL is the URL clients connect to.
func (e *Embedded) ClientURL() string { return e.s.ClientURL() }

// Shutdown stops the server and waits until it has.
func (e *Embedded) Shutdown() {
	e.s.Shutdown()
	e.s.WaitForShutdown()
}

// natsLog bridges nats-server's logger to slog.
type natsLog struct{ l *slog.Logger }

var _ server.Logger = natsLog{}

func (n natsLog) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLog) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n natsLog) Fatalf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLog) Errorf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLog) Debugf(format string, v ...any)  { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLog) Tracef(format string, v ...any)  {}
