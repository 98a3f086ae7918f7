package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/nats-io/nats.go"
)

// ReplayURL is the NATS server `roomwarden replay` reads the stream
// from: nats.url, or when it is empty, the embedded server that
// `roomwarden run` with this config serves on nats.embedded.listen (the
// replay does not start one: it would share the daemon's store
// directory).
func (c *Config) ReplayURL() (string, error) {
	if c.NATS.URL != "" {
		return c.NATS.URL, nil
	}
	host, port, err := splitListen(c.NATS.Embedded.Listen)
	if err != nil {
		return "", err
	}
	if port <= 0 {
		return "", errors.New("nats.url is empty and nats.embedded.listen has no fixed port: give nats.url, the daemon's server")
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("nats://%s", net.JoinHostPort(host, fmt.Sprint(port))), nil
}

// DialNATS connects to o.URL with the daemon's authentication and TLS,
// once: unlike ConnectNATS it fails at once when no server answers, for
// commands that read and exit (replay).
func DialNATS(o NATSOptions) (*nats.Conn, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts, err := natsOptions(o, logger)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(o.URL, append(opts, nats.MaxReconnects(10))...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURLs(o.URL), err)
	}
	return nc, nil
}
