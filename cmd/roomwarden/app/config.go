package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/roomwarden/roomwarden/engine/executor"
	"github.com/roomwarden/roomwarden/engine/intake"
)

// Config is the daemon's YAML config file. Keys and nesting are a user
// contract (see DESIGN.md and the README). Relative paths in it (rules.dir,
// nats.embedded.store_dir, nats.creds_file, nats.tls.*, action_log.path,
// roomengine.secret_key_file) resolve against the daemon's working
// directory, not the config file's.
type Config struct {
	NATS            NATSConfig       `yaml:"nats"`
	Rules           RulesConfig      `yaml:"rules"`
	RoomEngine      RoomEngineConfig `yaml:"roomengine"`
	Executor        ExecutorSettings `yaml:"executor"`
	DryRun          bool             `yaml:"dry_run"` // render and log actions, send nothing
	ActionLog       ActionLogConfig  `yaml:"action_log"`
	HTTP            HTTPConfig       `yaml:"http"`
	Cooldowns       CooldownsConfig  `yaml:"cooldowns"`
	ShutdownTimeout Duration         `yaml:"shutdown_timeout"` // bound on draining in-flight events
}

// NATSConfig is where events come from.
type NATSConfig struct {
	URL          string           `yaml:"url"` // empty: run the embedded server
	Embedded     EmbeddedConfig   `yaml:"embedded"`
	CredsFile    string           `yaml:"creds_file"`
	TLS          TLSFiles         `yaml:"tls"`
	User         string           `yaml:"user"`
	PasswordEnv  string           `yaml:"password_env"` // the variable holding nats.user's password
	Stream       string           `yaml:"stream"`
	StreamMaxAge Duration         `yaml:"stream_max_age"` // retention of a stream roomwarden creates; 0: forever
	Subjects     []string         `yaml:"subjects"`
	Durable      string           `yaml:"durable"`
	Consumer     ConsumerSettings `yaml:"consumer"`
	DLQ          DLQConfig        `yaml:"dlq"`
}

// EmbeddedConfig is the in-process NATS server used when nats.url is empty.
type EmbeddedConfig struct {
	Listen   string `yaml:"listen"`
	StoreDir string `yaml:"store_dir"`
}

// TLSFiles are PEM files for a TLS connection to NATS: the CA that signed
// the server's certificate, and optionally a client certificate.
type TLSFiles struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ConsumerSettings tune the durable pull consumer.
type ConsumerSettings struct {
	AckWait       Duration   `yaml:"ack_wait"`
	MaxAckPending int        `yaml:"max_ack_pending"`
	MaxDeliver    int        `yaml:"max_deliver"`
	BackOff       []Duration `yaml:"backoff"`
	Concurrency   int        `yaml:"concurrency"`
	FetchBatch    int        `yaml:"fetch_batch"`
}

// DLQConfig is where dead letters are published.
type DLQConfig struct {
	Subject string `yaml:"subject"`
	Stream  string `yaml:"stream"`
}

// RulesConfig is where rule files live.
type RulesConfig struct {
	Dir string `yaml:"dir"`
}

// RoomEngineConfig is the Tencent Cloud Room Engine REST API account.
type RoomEngineConfig struct {
	Endpoint      string   `yaml:"endpoint"` // scheme+host; the API path is fixed
	SDKAppID      uint64   `yaml:"sdkappid"`
	Identifier    string   `yaml:"identifier"`
	SecretKeyEnv  string   `yaml:"secret_key_env"`
	SecretKeyFile string   `yaml:"secret_key_file"`
	UserSigTTL    Duration `yaml:"usersig_ttl"`
	Timeout       Duration `yaml:"timeout"`
}

// ExecutorSettings pace and retry Room Engine calls.
type ExecutorSettings struct {
	RatePerSecond  int      `yaml:"rate_per_second"`
	MaxAttempts    int      `yaml:"max_attempts"`
	BackoffInitial Duration `yaml:"backoff_initial"`
	BackoffMax     Duration `yaml:"backoff_max"`
	Workers        int      `yaml:"workers"`
	QueueSize      int      `yaml:"queue_size"`
}

// ActionLogConfig is where terminal outcomes are written.
type ActionLogConfig struct {
	Path         string   `yaml:"path"` // "-" for stdout
	Subject      string   `yaml:"subject"`
	WriteTimeout Duration `yaml:"write_timeout"`
}

// HTTPConfig is the operations endpoint.
type HTTPConfig struct {
	Listen   string `yaml:"listen"`
	TokenEnv string `yaml:"token_env"` // bearer token for POST /-/reload; required off loopback
	Pprof    bool   `yaml:"pprof"`     // serve the Go profiler under /debug/pprof/
}

// CooldownsConfig bounds rule cooldown state.
type CooldownsConfig struct {
	MaxKeys int `yaml:"max_keys"`
}

// Default returns the config with every default set: everything except
// the Room Engine credentials.
func Default() *Config {
	return &Config{
		NATS: NATSConfig{
			Embedded:     EmbeddedConfig{Listen: "127.0.0.1:4222", StoreDir: "./data/nats"},
			Stream:       "ROOM_EVENTS",
			StreamMaxAge: Duration(24 * time.Hour),
			Subjects:     []string{"rooms.events.>"},
			Durable:      "roomwarden",
			Consumer: ConsumerSettings{
				AckWait:       Duration(30 * time.Second),
				MaxAckPending: 20000,
				MaxDeliver:    10,
				BackOff:       []Duration{Duration(30 * time.Second), Duration(time.Minute), Duration(2 * time.Minute), Duration(5 * time.Minute)},
				Concurrency:   64,
				FetchBatch:    500,
			},
			DLQ: DLQConfig{Subject: "roomwarden.dlq", Stream: "ROOMWARDEN_DLQ"},
		},
		Rules: RulesConfig{Dir: "./examples/rules"},
		RoomEngine: RoomEngineConfig{
			Endpoint:   "https://adminapisgp.im.qcloud.com",
			Identifier: "administrator",
			UserSigTTL: Duration(24 * time.Hour),
			Timeout:    Duration(5 * time.Second),
		},
		Executor: ExecutorSettings{
			RatePerSecond:  200,
			MaxAttempts:    6,
			BackoffInitial: Duration(200 * time.Millisecond),
			BackoffMax:     Duration(10 * time.Second),
			Workers:        64,
			QueueSize:      10000,
		},
		ActionLog:       ActionLogConfig{Path: "./data/actions.jsonl", Subject: "roomwarden.actions", WriteTimeout: Duration(5 * time.Second)},
		HTTP:            HTTPConfig{Listen: "127.0.0.1:9464"},
		Cooldowns:       CooldownsConfig{MaxKeys: 1000000},
		ShutdownTimeout: Duration(10 * time.Second),
	}
}

// IntakeConfig is the intake's view of the nats section; the caller
// adds the connection, the handler and the dead-letter sink.
func (c *Config) IntakeConfig() intake.Config {
	n := c.NATS
	backoff := make([]time.Duration, len(n.Consumer.BackOff))
	for i, b := range n.Consumer.BackOff {
		backoff[i] = b.Duration()
	}
	return intake.Config{
		Stream:        n.Stream,
		Subjects:      n.Subjects,
		Durable:       n.Durable,
		MaxAge:        n.StreamMaxAge.Duration(),
		AckWait:       n.Consumer.AckWait.Duration(),
		MaxAckPending: n.Consumer.MaxAckPending,
		MaxDeliver:    n.Consumer.MaxDeliver,
		BackOff:       backoff,
		Concurrency:   n.Consumer.Concurrency,
		FetchBatch:    n.Consumer.FetchBatch,
	}
}

// ExecutorConfig is the executor's view of the executor section; the
// caller adds the sinks.
func (c *Config) ExecutorConfig() executor.Config {
	e := c.Executor
	return executor.Config{
		RatePerSecond:  e.RatePerSecond,
		MaxAttempts:    e.MaxAttempts,
		BackoffInitial: e.BackoffInitial.Duration(),
		BackoffMax:     e.BackoffMax.Duration(),
		Workers:        e.Workers,
		QueueSize:      e.QueueSize,
	}
}

// NATSOptions is how to connect to the NATS server in nats.url.
func (c *Config) NATSOptions() NATSOptions {
	n := c.NATS
	return NATSOptions{
		CredsFile:   n.CredsFile,
		CAFile:      n.TLS.CAFile,
		CertFile:    n.TLS.CertFile,
		KeyFile:     n.TLS.KeyFile,
		User:        n.User,
		PasswordEnv: n.PasswordEnv,
	}
}

// Duration is a config duration, written as a Go duration string such
// as 200ms, 30s or 24h.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a duration such as 30s or 5m")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration: want a number with a unit, such as 500ms, 30s or 5m", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// LoadConfig reads a config file over the defaults. It is strict: an
// unknown key or a value of the wrong type is an error naming the file,
// line and column. It does not validate; call Validate.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg := Default()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil // an empty file: all defaults
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if errs := checkNode(root, reflect.TypeFor[Config](), ""); len(errs) > 0 {
		for i := range errs {
			errs[i] = fmt.Errorf("%s:%w", path, errs[i])
		}
		return nil, errors.Join(errs...)
	}
	// Lists (subjects, backoff) replace the defaults; mappings merge.
	if err := root.Decode(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

var durationType = reflect.TypeFor[Duration]()

// checkNode reports, with line and column, every key of n that t does
// not have and every value that does not decode into its field's type.
func checkNode(n *yaml.Node, t reflect.Type, path string) []error {
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		return checkMapping(n, t, path)
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		var errs []error
		for i, item := range n.Content {
			errs = append(errs, checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return []error{posError(n, path, yamlMessage(err))}
	}
	return nil
}

func checkMapping(n *yaml.Node, t reflect.Type, path string) []error {
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []error{posError(n, path, "want a mapping of keys to values")}
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		f, ok := fieldByTag(t, key.Value)
		sub := strings.TrimPrefix(path+"."+key.Value, ".")
		if !ok {
			errs = append(errs, posError(key, sub, fmt.Sprintf("unknown key (want one of %s)", strings.Join(tagNames(t), ", "))))
			continue
		}
		errs = append(errs, checkNode(val, f.Type, sub)...)
	}
	return errs
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("yaml") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagNames(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("yaml")
	}
	return names
}

func posError(n *yaml.Node, path, msg string) error {
	return fmt.Errorf("%d:%d: %s: %s", n.Line, n.Column, path, msg)
}

var yamlLinePrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\n\s*)?(line \d+: )?`)

// yamlMessage strips yaml.v3's own position prefix: ours is more precise.
func yamlMessage(err error) string {
	return yamlLinePrefix.ReplaceAllString(err.Error(), "")
}

// maxRatePerSecond is the Room Engine API's limit.
const maxRatePerSecond = 200

// ValidationError lists every problem found in a config, each saying
// which key is wrong and how to fix it.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid config (%d problems):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
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
	if r.Timeout <= 0 {
		p.addf("roomengine.timeout: %s must be positive (the backend gives up after 3s; 5s is usual)", r.Timeout.Duration())
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

// SecretKey reads the Room Engine secret key from secret_key_env or
// secret_key_file (one trailing newline trimmed). The warning, if not
// empty, is for the log: a key file readable by group or others. In dry
// run without a key source it returns no key and no error.
func (c *Config) SecretKey() (key []byte, warning string, err error) {
	r := c.RoomEngine
	switch {
	case r.SecretKeyEnv != "":
		v := os.Getenv(r.SecretKeyEnv)
		if v == "" {
			return nil, "", fmt.Errorf("roomengine.secret_key_env: environment variable %s is empty or unset", r.SecretKeyEnv)
		}
		return []byte(v), "", nil
	case r.SecretKeyFile != "":
		return readKeyFile(r.SecretKeyFile)
	}
	if c.DryRun {
		return nil, "", nil
	}
	return nil, "", errors.New("roomengine: no secret key source: set secret_key_env or secret_key_file")
}

func readKeyFile(path string) ([]byte, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("roomengine.secret_key_file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("roomengine.secret_key_file: %w", err)
	}
	key := bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
	if len(key) == 0 {
		return nil, "", fmt.Errorf("roomengine.secret_key_file: %s is empty", path)
	}
	var warning string
	if perm := fi.Mode().Perm(); perm&0o044 != 0 {
		warning = fmt.Sprintf("roomengine.secret_key_file %s is readable by group or others (mode %04o): run chmod 600 on it", path, perm)
	}
	return key, warning, nil
}
