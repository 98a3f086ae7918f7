package app

import (
	"time"

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
	State           StateConfig      `yaml:"state"`
	Overrides       OverridesConfig  `yaml:"overrides"`
	ShutdownTimeout Duration         `yaml:"shutdown_timeout"` // bound on draining in-flight events
}

// StateConfig is where roomwarden keeps what it remembers between events
// (cooldowns, windows, labels, seat locks and their undos, overrides,
// budgets): JetStream, created if missing.
type StateConfig struct {
	Replicas   int    `yaml:"replicas"`    // JetStream replicas of what roomwarden creates (3 on a cluster)
	Bucket     string `yaml:"bucket"`      // the KV bucket of roomwarden's own keys
	UndoStream string `yaml:"undo_stream"` // the stream of scheduled undos
}

// OverridesConfig is how roomwarden yields to human moderators.
type OverridesConfig struct {
	// Hold is how long, after a moderator clears a flag roomwarden held
	// locked, roomwarden sends no lock_seat setting it on that seat again.
	Hold Duration `yaml:"hold"`
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
	// ShadowDir holds candidate rules evaluated beside the live ones on
	// every event: their actions are logged with outcome shadow and never
	// sent. Empty: none.
	ShadowDir string `yaml:"shadow_dir"`
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
	JitterMargin   Duration `yaml:"jitter_margin"`
}

// ActionLogConfig is where terminal outcomes are written.
type ActionLogConfig struct {
	Path         string   `yaml:"path"` // "-" for stdout
	Subject      string   `yaml:"subject"`
	WriteTimeout Duration `yaml:"write_timeout"`
}

// HTTPConfig is the operations endpoint.
type HTTPConfig struct {
	Listen         string   `yaml:"listen"`
	TokenEnv       string   `yaml:"token_env"`       // bearer token for POST /-/reload; required off loopback
	Pprof          bool     `yaml:"pprof"`           // serve the Go profiler under /debug/pprof/
	MaxConnections int      `yaml:"max_connections"` // open connections at once; then the idlest is closed for a new one
	IdleTimeout    Duration `yaml:"idle_timeout"`    // an idle keep-alive connection is closed after this
}

// CooldownsConfig bounds rule cooldown state kept in memory (rule
// tests, replay, explain); the daemon keeps cooldowns in JetStream.
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
			JitterMargin:   Duration(20 * time.Millisecond),
		},
		ActionLog:       ActionLogConfig{Path: "./data/actions.jsonl", Subject: "roomwarden.actions", WriteTimeout: Duration(5 * time.Second)},
		HTTP:            HTTPConfig{Listen: "127.0.0.1:9464", MaxConnections: 256, IdleTimeout: Duration(30 * time.Second)},
		Cooldowns:       CooldownsConfig{MaxKeys: 1000000},
		State:           StateConfig{Replicas: 1, Bucket: "roomwarden_state", UndoStream: "ROOMWARDEN_UNDO"},
		Overrides:       OverridesConfig{Hold: Duration(30 * time.Minute)},
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
		JitterMargin:   e.JitterMargin.Duration(),
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
