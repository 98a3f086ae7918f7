package roomengine

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults and limits.
const (
	DefaultUserSigTTL = 24 * time.Hour
	DefaultTimeout    = 5 * time.Second
	// BackendTimeout is how long the Room Engine backend works on a call
	// before giving up; the client timeout must be longer.
	BackendTimeout = 3 * time.Second
	minUserSigTTL  = time.Minute
)

// Config configures a Client.
type Config struct {
	// Endpoint is the scheme and host of the app's data centre, such as
	// https://adminapisgp.im.qcloud.com (see the package comment), or the
	// simulator's http://127.0.0.1:PORT. The API path is fixed.
	Endpoint string
	// SDKAppID is the app's SDKAppID from the Chat console.
	SDKAppID uint64
	// Identifier is an App administrator account.
	Identifier string
	// SecretKey is the app's secret key, raw bytes as the console shows
	// it. Load it with LoadSecretKey; never put it in a config file.
	SecretKey []byte
	// UserSigTTL is the validity of each generated UserSig; the client
	// renews it at half-life. Default 24h, at least 1m.
	UserSigTTL time.Duration
	// Timeout bounds one HTTP call. Default 5s; it must be above the
	// backend's 3s timeout, or slow successes would turn into retries.
	Timeout time.Duration
	// Logger receives debug lines per call and notices on UserSig renewal.
	// Nil discards.
	Logger *slog.Logger
	// Now is the clock for UserSig issue times. Nil is time.Now.
	Now func() time.Time
}

// withDefaults fills the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.UserSigTTL == 0 {
		c.UserSigTTL = DefaultUserSigTTL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	endpoint, err := cleanEndpoint(c.Endpoint)
	if err != nil {
		return c, err
	}
	c.Endpoint = endpoint
	return c, c.check()
}

func (c Config) check() error {
	switch {
	case c.SDKAppID == 0:
		return errors.New("roomengine: sdkappid is not set: copy the app's SDKAppID from the Chat console")
	case c.Identifier == "":
		return errors.New("roomengine: identifier is not set: name an App administrator account")
	case len(c.SecretKey) == 0:
		return errors.New("roomengine: secret key is empty: set secret_key_env or secret_key_file")
	case c.UserSigTTL < minUserSigTTL:
		return fmt.Errorf("roomengine: usersig_ttl %v is too short: use at least %v (24h is recommended)", c.UserSigTTL, minUserSigTTL)
	case c.Timeout < 0:
		return fmt.Errorf("roomengine: timeout %v is negative", c.Timeout)
	case c.Timeout <= BackendTimeout:
		return fmt.Errorf("roomengine: timeout %v must be above the backend's %v timeout (default %v)", c.Timeout, BackendTimeout, DefaultTimeout)
	}
	return nil
}

// cleanEndpoint accepts scheme://host[:port] with an optional trailing
// slash and returns it without the slash.
func cleanEndpoint(s string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("roomengine: endpoint %q %s: use scheme and host only, such as https://adminapisgp.im.qcloud.com", s, why)
	}
	if s == "" {
		return "", bad("is empty")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", bad("does not parse")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", bad("needs an http or https scheme")
	case u.Host == "":
		return "", bad("has no host")
	case u.User != nil, u.RawQuery != "", u.Fragment != "", u.Path != "" && u.Path != "/":
		return "", bad("has more than a scheme and host")
	}
	return u.Scheme + "://" + u.Host, nil
}

// plaintextRemote reports whether endpoint sends the usersig in clear text
// to another machine.
func plaintextRemote(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// LoadSecretKey reads the secret key from the environment variable named
// env, or else from file (surrounding whitespace trimmed). Exactly one of
// them should be set. Errors name the variable or file, never the value.
func LoadSecretKey(env, file string) ([]byte, error) {
	switch {
	case env != "" && file != "":
		return nil, errors.New("roomengine: set secret_key_env or secret_key_file, not both")
	case env != "":
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return nil, fmt.Errorf("roomengine: environment variable %s is empty or unset: export the app's secret key there", env)
		}
		return []byte(v), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("roomengine: read secret key file: %w", err)
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return nil, fmt.Errorf("roomengine: secret key file %s is empty", file)
		}
		return b, nil
	}
	return nil, errors.New("roomengine: no secret key source: set secret_key_env or secret_key_file")
}
