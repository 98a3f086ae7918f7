package app

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSOptions is where and how the daemon connects to NATS: the
// servers, authentication and TLS. Paths resolve against the working
// directory.
type NATSOptions struct {
	URL           string // the servers, comma-separated
	Name          string // connection name shown by the server; default roomwarden
	CredsFile     string // NATS credentials (JWT and NKey seed)
	CAFile        string // CA that signed the server's certificate; enables TLS
	CertFile      string // client certificate, with KeyFile
	KeyFile       string
	User          string
	PasswordEnv   string        // environment variable holding User's password
	ReconnectWait time.Duration // between reconnect attempts, plus jitter; default 1s
	Logger        *slog.Logger  // disconnects, reconnects, errors; nil: discard
}

// ConnectNATS connects to the servers in o.URL and stays connected: it reconnects forever, with jitter, logging every
// disconnect and reconnect. When no server is reachable yet it returns a
// connection that keeps trying, so the daemon may start before NATS; a
// rejected certificate or password is an error at once.
func ConnectNATS(o NATSOptions) (*nats.Conn, error) {
	serverURL, logger := o.URL, o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts, err := natsOptions(o, logger)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(serverURL, opts...)
	if err == nil {
		logger.Info("connected to nats", "url", nc.ConnectedUrlRedacted())
		return nc, nil
	}
	if !errors.Is(err, nats.ErrNoServers) {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURLs(serverURL), err)
	}
	logger.Warn("nats not reachable yet; retrying in the background", "url", redactURLs(serverURL), "err", err)
	nc, err = nats.Connect(serverURL, append(opts, nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURLs(serverURL), err)
	}
	return nc, nil
}

func natsOptions(o NATSOptions, logger *slog.Logger) ([]nats.Option, error) {
	wait := cmp.Or(o.ReconnectWait, time.Second)
	opts := []nats.Option{
		nats.Name(cmp.Or(o.Name, "roomwarden")),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/2, wait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // a deliberate close or drain
				return
			}
			logger.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { logger.Info("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("nats error", "subject", subject, "err", err)
		}),
	}
	auth, err := authOptions(o)
	if err != nil {
		return nil, err
	}
	return append(opts, auth...), nil
}

// authOptions checks the files and the password variable up front so a
// mistake reads as a config error, not as a connection failure.
func authOptions(o NATSOptions) ([]nats.Option, error) {
	var opts []nats.Option
	for _, f := range []struct{ key, path string }{
		{"nats.creds_file", o.CredsFile}, {"nats.tls.ca_file", o.CAFile},
		{"nats.tls.cert_file", o.CertFile}, {"nats.tls.key_file", o.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	if o.User != "" {
		pw := os.Getenv(o.PasswordEnv)
		if pw == "" {
			return nil, fmt.Errorf("nats.password_env: environment variable %q is empty or unset", o.PasswordEnv)
		}
		opts = append(opts, nats.UserInfo(o.User, pw))
	}
	return opts, nil
}

// redactURLs hides passwords in a comma-separated server list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
