package app

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

// maxRatePerSecond is the Room Engine API's limit.
const maxRatePerSecond = 200

// ValidationError lists every problem found in a config, each saying
// which key is wrong and how to fix it.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	n := fmt.Sprintf("%d problems", len(e.Problems))
	if len(e.Problems) == 1 {
		n = "1 problem"
	}
	return fmt.Sprintf("invalid config (%s):\n  %s", n, strings.Join(e.Problems, "\n  "))
}

// problems collects validation messages.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// Validate checks the config and returns a *ValidationError listing every
// problem, or nil.
func (c *Config) Validate() error {
	var p problems
	c.validateNATS(&p)
	c.validateRoomEngine(&p)
	c.validateExecutor(&p)
	c.validateOutputs(&p)
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

var natsName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (c *Config) validateNATS(p *problems) {
	n := c.NATS
	if n.URL == "" {
		if _, _, err := net.SplitHostPort(n.Embedded.Listen); err != nil {
			p.addf("nats.embedded.listen: %q is not host:port (such as 127.0.0.1:4222)", n.Embedded.Listen)
		}
		if n.Embedded.StoreDir == "" {
			p.addf("nats.embedded.store_dir: required (a directory for the embedded server's JetStream data)")
		}
	}
	for _, u := range strings.Split(n.URL, ",") {
		if pu, err := url.Parse(strings.TrimSpace(u)); n.URL != "" && (err != nil || pu.Host == "") {
			p.addf("nats.url: %q is not a server URL (such as nats://127.0.0.1:4222 or tls://nats.example.com:4222)", u)
		}
	}
	if n.CredsFile != "" && n.User != "" {
		p.addf("nats.user: set either nats.creds_file or nats.user, not both")
	}
	if (n.User == "") != (n.PasswordEnv == "") {
		p.addf("nats.password_env: nats.user and nats.password_env go together (password_env names the environment variable holding the password)")
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		p.addf("nats.tls: cert_file and key_file go together (a client certificate and its key)")
	}
	for _, f := range []struct{ key, v string }{{"nats.stream", n.Stream}, {"nats.durable", n.Durable}, {"nats.dlq.stream", n.DLQ.Stream}} {
		if !natsName.MatchString(f.v) {
			p.addf("%s: %q is not a valid name (letters, digits, - and _ only)", f.key, f.v)
		}
	}
	if len(n.Subjects) == 0 {
		p.addf("nats.subjects: required (such as [\"rooms.events.>\"])")
	}
	if n.StreamMaxAge < 0 {
		p.addf("nats.stream_max_age: %s must not be negative (0 keeps events forever)", n.StreamMaxAge.Duration())
	}
	if n.DLQ.Subject == "" {
		p.addf("nats.dlq.subject: required (such as roomwarden.dlq)")
	}
	validateConsumer(n.Consumer, p)
}

func validateConsumer(c ConsumerSettings, p *problems) {
	if c.AckWait.Duration() < time.Second {
		p.addf("nats.consumer.ack_wait: %s is too short (want at least 1s; running handlers are kept alive, so 30s is fine)", c.AckWait.Duration())
	}
	if c.MaxDeliver != -1 && c.MaxDeliver <= len(c.BackOff) {
		p.addf("nats.consumer.max_deliver: %d must exceed the number of backoff steps (%d), or be -1 for unlimited", c.MaxDeliver, len(c.BackOff))
	}
	for i, b := range c.BackOff {
		if b <= 0 {
			p.addf("nats.consumer.backoff[%d]: %s must be positive", i, b.Duration())
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"max_ack_pending", c.MaxAckPending}, {"concurrency", c.Concurrency}, {"fetch_batch", c.FetchBatch}} {
		if f.v < 1 {
			p.addf("nats.consumer.%s: %d must be at least 1", f.key, f.v)
		}
	}
}

func (c *Config) validateRoomEngine(p *problems) {
	r := c.RoomEngine
	if u, err := url.Parse(r.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		p.addf("roomengine.endpoint: %q must be a scheme and host only, such as https://adminapisgp.im.qcloud.com (the API path is fixed)", r.Endpoint)
	}
	if r.SDKAppID == 0 {
		p.addf("roomengine.sdkappid: required (the SDKAppID from the Chat console)")
	}
	if r.Identifier == "" {
		p.addf("roomengine.identifier: required (an App administrator account, such as administrator)")
	}
	switch {
	case r.SecretKeyEnv != "" && r.SecretKeyFile != "":
		p.addf("roomengine.secret_key_env: set either secret_key_env or secret_key_file, not both")
	case r.SecretKeyEnv == "" && r.SecretKeyFile == "" && !c.DryRun:
		p.addf("roomengine.secret_key_env: required: name the environment variable holding the secret key (such as ROOMWARDEN_SECRET_KEY), or set secret_key_file (or dry_run: true)")
	}
	if r.UserSigTTL.Duration() < time.Minute {
		p.addf("roomengine.usersig_ttl: %s is too short (want at least 1m; 24h is usual)", r.UserSigTTL.Duration())
	}
	if r.Timeout.Duration() <= roomengine.BackendTimeout {
		p.addf("roomengine.timeout: %s must exceed the backend's own %s timeout, or slow successes turn into retries (5s is usual)",
			r.Timeout.Duration(), roomengine.BackendTimeout)
	}
}

func (c *Config) validateExecutor(p *problems) {
	e := c.Executor
	if e.RatePerSecond < 1 || e.RatePerSecond > maxRatePerSecond {
		p.addf("executor.rate_per_second: %d is out of range: want 1 to %d (%d calls per second is the Room Engine API's maximum)", e.RatePerSecond, maxRatePerSecond, maxRatePerSecond)
	}
	if e.MaxAttempts < 1 {
		p.addf("executor.max_attempts: %d must be at least 1", e.MaxAttempts)
	}
	if e.BackoffInitial <= 0 || e.BackoffMax < e.BackoffInitial {
		p.addf("executor.backoff_initial: want 0 < backoff_initial (%s) <= backoff_max (%s)", e.BackoffInitial.Duration(), e.BackoffMax.Duration())
	}
	if e.Workers < 1 {
		p.addf("executor.workers: %d must be at least 1", e.Workers)
	}
	if e.QueueSize < 1 {
		p.addf("executor.queue_size: %d must be at least 1", e.QueueSize)
	}
	if m := e.JitterMargin.Duration(); m < time.Millisecond || m > time.Second {
		p.addf("executor.jitter_margin: %s is out of range: want 1ms to 1s", m)
	}
}

func (c *Config) validateOutputs(p *problems) {
	if c.Rules.Dir == "" {
		p.addf("rules.dir: required (the directory of rule files)")
	}
	if c.ActionLog.Path == "" {
		p.addf("action_log.path: required (a file, or - for stdout)")
	}
	if c.ActionLog.Subject == "" {
		p.addf("action_log.subject: required (such as roomwarden.actions)")
	}
	if c.ActionLog.WriteTimeout <= 0 {
		p.addf("action_log.write_timeout: %s must be positive", c.ActionLog.WriteTimeout.Duration())
	}
	if c.State.Replicas < 1 || c.State.Replicas > 5 {
		p.addf("state.replicas: %d is out of range: want 1 to 5 (3 on a three-node cluster)", c.State.Replicas)
	}
	for _, f := range []struct{ key, v string }{{"state.bucket", c.State.Bucket}, {"state.undo_stream", c.State.UndoStream}} {
		if !natsName.MatchString(f.v) {
			p.addf("%s: %q is not a valid name (letters, digits, - and _ only)", f.key, f.v)
		}
	}
	if c.Overrides.Hold <= 0 {
		p.addf("overrides.hold: %s must be positive (30m is usual)", c.Overrides.Hold.Duration())
	}
	if c.Cooldowns.MaxKeys < 1 {
		p.addf("cooldowns.max_keys: %d must be at least 1", c.Cooldowns.MaxKeys)
	}
	if c.ShutdownTimeout <= 0 {
		p.addf("shutdown_timeout: %s must be positive (such as 10s)", c.ShutdownTimeout.Duration())
	}
	c.validateHTTP(p)
}

func (c *Config) validateHTTP(p *problems) {
	host, _, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		p.addf("http.listen: %q is not host:port (such as 127.0.0.1:9464)", c.HTTP.Listen)
		return
	}
	if c.HTTP.MaxConnections < 1 {
		p.addf("http.max_connections: %d must be at least 1 (256 is usual)", c.HTTP.MaxConnections)
	}
	if c.HTTP.IdleTimeout <= 0 {
		p.addf("http.idle_timeout: %s must be positive (30s is usual)", c.HTTP.IdleTimeout.Duration())
	}
	if !isLoopback(host) && c.HTTP.TokenEnv == "" {
		p.addf("http.token_env: required when http.listen (%s) is not a loopback address: name the environment variable holding the bearer token for POST /-/reload", c.HTTP.Listen)
	}
}

// isLoopback reports whether host is localhost or a loopback IP. An empty
// host (all interfaces) is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
