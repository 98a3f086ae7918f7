package app

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// designExample is the config file from DESIGN.md.
const designExample = `nats:
  url: ""                          # empty: embedded server
  embedded: {listen: "127.0.0.1:4222", store_dir: "./data/nats"}
  creds_file: ""                   # optional NATS credentials
  stream: ROOM_EVENTS
  subjects: ["rooms.events.>"]
  durable: roomwarden
rules:
  dir: ./examples/rules
roomengine:
  endpoint: https://adminapisgp.im.qcloud.com   # scheme+host; path is fixed by the API
  sdkappid: 1400000000
  identifier: administrator        # an App administrator account
  secret_key_env: ROOMWARDEN_SECRET_KEY          # or secret_key_file: PATH
  usersig_ttl: 24h
  timeout: 5s
executor:
  rate_per_second: 200
  max_attempts: 6
  backoff_initial: 200ms
  backoff_max: 10s
dry_run: false                     # true: render and log actions, send nothing
action_log:
  path: ./data/actions.jsonl       # "-" for stdout
  subject: roomwarden.actions
http:
  listen: 127.0.0.1:9464           # /metrics /healthz /readyz /rules POST /-/reload
`

func writeConfigFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigDesignExample(t *testing.T) {
	cfg, err := LoadConfig(writeConfigFile(t, "roomwarden.yaml", designExample, 0o600))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := Default()
	want.RoomEngine.SDKAppID = 1400000000
	want.RoomEngine.SecretKeyEnv = "ROOMWARDEN_SECRET_KEY"
	if got := cfg; !configEqual(got, want) {
		t.Errorf("loaded config = %+v\nwant %+v", got, want)
	}
}

func configEqual(a, b *Config) bool { return reflect.DeepEqual(a, b) }

func TestLoadConfigOverridesAndExtensions(t *testing.T) {
	path := writeConfigFile(t, "c.yaml", `nats:
  url: tls://nats.example.com:4222
  tls: {ca_file: ca.pem}
  stream_max_age: 72h
  consumer:
    ack_wait: 1m
    backoff: [1m, 10m]
    concurrency: 64
executor: {workers: 8, jitter_margin: 150ms}
shutdown_timeout: 30s
`, 0o600)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	c := cfg.NATS.Consumer
	if c.AckWait.Duration() != time.Minute || !slices.Equal(c.BackOff, []Duration{Duration(time.Minute), Duration(10 * time.Minute)}) ||
		c.Concurrency != 64 || c.MaxAckPending != 20000 {
		t.Errorf("consumer = %+v, want ack_wait 1m, backoff [1m 10m], concurrency 64 and the default max_ack_pending", c)
	}
	if cfg.Executor.Workers != 8 || cfg.Executor.RatePerSecond != 200 || cfg.ShutdownTimeout.Duration() != 30*time.Second {
		t.Errorf("executor = %+v, shutdown_timeout = %s", cfg.Executor, cfg.ShutdownTimeout.Duration())
	}
	if ec := cfg.ExecutorConfig(); ec.JitterMargin != 150*time.Millisecond || ec.Workers != 8 {
		t.Errorf("ExecutorConfig() = %+v, want jitter margin 150ms and 8 workers", ec)
	}
	ic := cfg.IntakeConfig()
	if ic.AckWait != time.Minute || !slices.Equal(ic.BackOff, []time.Duration{time.Minute, 10 * time.Minute}) ||
		ic.MaxAge != 72*time.Hour {
		t.Errorf("IntakeConfig = %+v", ic)
	}
	if o := cfg.NATSOptions(); o.CAFile != "ca.pem" {
		t.Errorf("NATSOptions().CAFile = %q, want ca.pem", o.CAFile)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "natz: {}\n",
			`:1:1: natz: unknown key (want one of nats, rules, roomengine, executor, dry_run, action_log, http, cooldowns, state, overrides, shutdown_timeout)`},
		{"unknown nested key", "nats:\n  consumer:\n    ack_wiat: 1s\n",
			`:3:5: nats.consumer.ack_wiat: unknown key (want one of ack_wait, max_ack_pending, max_deliver, backoff, concurrency, fetch_batch)`},
		{"bad duration", "roomengine:\n  timeout: 5 seconds\n",
			`:2:12: roomengine.timeout: "5 seconds" is not a duration: want a number with a unit, such as 500ms, 30s or 5m`},
		{"bad duration in a list", "nats:\n  consumer: {backoff: [1s, soon]}\n",
			`:2:28: nats.consumer.backoff[1]: "soon" is not a duration: want a number with a unit, such as 500ms, 30s or 5m`},
		{"string for a number", "roomengine:\n  sdkappid: abc\n",
			":2:13: roomengine.sdkappid: cannot unmarshal !!str `abc` into uint64"},
		{"scalar for a section", "http: 9464\n",
			`:1:7: http: want a mapping of keys to values`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfigFile(t, "c.yaml", tc.yaml, 0o600)
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("LoadConfig() error = nil")
			}
			if got, want := err.Error(), path+tc.want; got != want {
				t.Errorf("error = %s\nwant    %s", got, want)
			}
		})
	}
}

func TestLoadConfigEmptyFileIsDefaults(t *testing.T) {
	cfg, err := LoadConfig(writeConfigFile(t, "c.yaml", "", 0o600))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if !configEqual(cfg, Default()) {
		t.Errorf("empty file config = %+v, want the defaults", cfg)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want os.ErrNotExist", err)
	}
}

// validTestConfig is the defaults plus credentials.
func validTestConfig() *Config {
	c := Default()
	c.RoomEngine.SDKAppID = 1400000000
	c.RoomEngine.SecretKeyEnv = "ROOMWARDEN_SECRET_KEY"
	return c
}

func TestDefaultNeedsOnlyCredentials(t *testing.T) {
	err := Default().Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want *ValidationError", err)
	}
	want := []string{
		"roomengine.sdkappid: required (the SDKAppID from the Chat console)",
		"roomengine.secret_key_env: required: name the environment variable holding the secret key (such as ROOMWARDEN_SECRET_KEY), or set secret_key_file (or dry_run: true)",
	}
	if !slices.Equal(ve.Problems, want) {
		t.Errorf("problems = %q\nwant %q", ve.Problems, want)
	}
	if err := validTestConfig().Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"endpoint with a path", func(c *Config) {
			c.RoomEngine.Endpoint = "https://adminapisgp.im.qcloud.com/v4/room_engine_http_mic/lock_seat"
		},
			`roomengine.endpoint: "https://adminapisgp.im.qcloud.com/v4/room_engine_http_mic/lock_seat" must be a scheme and host only, such as https://adminapisgp.im.qcloud.com (the API path is fixed)`},
		{"endpoint without scheme", func(c *Config) { c.RoomEngine.Endpoint = "adminapisgp.im.qcloud.com" },
			`roomengine.endpoint: "adminapisgp.im.qcloud.com" must be a scheme and host only, such as https://adminapisgp.im.qcloud.com (the API path is fixed)`},
		{"rate above the API maximum", func(c *Config) { c.Executor.RatePerSecond = 500 },
			"executor.rate_per_second: 500 is out of range: want 1 to 200 (200 calls per second is the Room Engine API's maximum)"},
		{"rate zero", func(c *Config) { c.Executor.RatePerSecond = 0 },
			"executor.rate_per_second: 0 is out of range: want 1 to 200 (200 calls per second is the Room Engine API's maximum)"},
		{"jitter margin zero", func(c *Config) { c.Executor.JitterMargin = 0 },
			"executor.jitter_margin: 0s is out of range: want 1ms to 1s"},
		{"jitter margin above a second", func(c *Config) { c.Executor.JitterMargin = Duration(2 * time.Second) },
			"executor.jitter_margin: 2s is out of range: want 1ms to 1s"},
		{"both secret sources", func(c *Config) { c.RoomEngine.SecretKeyFile = "key" },
			"roomengine.secret_key_env: set either secret_key_env or secret_key_file, not both"},
		{"public http without token", func(c *Config) { c.HTTP.Listen = "0.0.0.0:9464" },
			"http.token_env: required when http.listen (0.0.0.0:9464) is not a loopback address: name the environment variable holding the bearer token for POST /-/reload"},
		{"http on all interfaces without token", func(c *Config) { c.HTTP.Listen = ":9464" },
			"http.token_env: required when http.listen (:9464) is not a loopback address: name the environment variable holding the bearer token for POST /-/reload"},
		{"backoff too long for max deliver", func(c *Config) { c.NATS.Consumer.MaxDeliver = 4 },
			"nats.consumer.max_deliver: 4 must exceed the number of backoff steps (4), or be -1 for unlimited"},
		{"ack wait too short", func(c *Config) { c.NATS.Consumer.AckWait = Duration(100 * time.Millisecond) },
			"nats.consumer.ack_wait: 100ms is too short (want at least 1s; running handlers are kept alive, so 30s is fine)"},
		{"bad stream name", func(c *Config) { c.NATS.Stream = "room.events" },
			`nats.stream: "room.events" is not a valid name (letters, digits, - and _ only)`},
		{"negative stream max age", func(c *Config) { c.NATS.StreamMaxAge = Duration(-time.Hour) },
			"nats.stream_max_age: -1h0m0s must not be negative (0 keeps events forever)"},
		{"user without password env", func(c *Config) { c.NATS.User = "rw" },
			"nats.password_env: nats.user and nats.password_env go together (password_env names the environment variable holding the password)"},
		{"client cert without key", func(c *Config) { c.NATS.TLS.CertFile = "c.pem" },
			"nats.tls: cert_file and key_file go together (a client certificate and its key)"},
		{"bad nats url", func(c *Config) { c.NATS.URL = "localhost" },
			`nats.url: "localhost" is not a server URL (such as nats://127.0.0.1:4222 or tls://nats.example.com:4222)`},
		{"bad embedded listen", func(c *Config) { c.NATS.Embedded.Listen = "4222" },
			`nats.embedded.listen: "4222" is not host:port (such as 127.0.0.1:4222)`},
		{"backoff max below initial", func(c *Config) { c.Executor.BackoffMax = Duration(time.Millisecond) },
			"executor.backoff_initial: want 0 < backoff_initial (200ms) <= backoff_max (1ms)"},
		{"no rules dir", func(c *Config) { c.Rules.Dir = "" }, "rules.dir: required (the directory of rule files)"},
		{"zero shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout: 0s must be positive (such as 10s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validTestConfig()
			tc.change(c)
			var ve *ValidationError
			if err := c.Validate(); !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want *ValidationError", err)
			}
			if !slices.Equal(ve.Problems, []string{tc.want}) {
				t.Errorf("problems = %q\nwant [%q]", ve.Problems, tc.want)
			}
			if !strings.Contains(ve.Error(), tc.want) {
				t.Errorf("Error() = %q, want it to contain the problem", ve.Error())
			}
		})
	}
}

func TestValidateDryRunNeedsNoSecret(t *testing.T) {
	c := validTestConfig()
	c.RoomEngine.SecretKeyEnv = ""
	c.DryRun = true
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	key, warn, err := c.SecretKey()
	if key != nil || warn != "" || err != nil {
		t.Errorf("SecretKey() = %q, %q, %v; want nothing", key, warn, err)
	}
}

func TestSecretKey(t *testing.T) {
	t.Setenv("RW_TEST_KEY", "env-secret")
	tests := []struct {
		name     string
		env      string
		file     string // content; written with mode
		mode     os.FileMode
		wantKey  string
		wantWarn bool
		wantErr  string
	}{
		{name: "from env", env: "RW_TEST_KEY", wantKey: "env-secret"},
		{name: "unset env", env: "RW_TEST_UNSET", wantErr: `roomengine.secret_key_env: environment variable RW_TEST_UNSET is empty or unset`},
		{name: "private file, newline trimmed", file: "file-secret\n", mode: 0o600, wantKey: "file-secret"},
		{name: "crlf trimmed", file: "file-secret\r\n", mode: 0o400, wantKey: "file-secret"},
		{name: "world-readable file warns", file: "file-secret", mode: 0o644, wantKey: "file-secret", wantWarn: true},
		{name: "group-readable file warns", file: "file-secret", mode: 0o640, wantKey: "file-secret", wantWarn: true},
		{name: "empty file", file: "\n", mode: 0o600, wantErr: "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validTestConfig()
			c.RoomEngine.SecretKeyEnv = tc.env
			if tc.file != "" {
				c.RoomEngine.SecretKeyFile = writeConfigFile(t, "key", tc.file, tc.mode)
			}
			key, warn, err := c.SecretKey()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("SecretKey() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SecretKey: %v", err)
			}
			if string(key) != tc.wantKey {
				t.Errorf("key = %q, want %q", key, tc.wantKey)
			}
			if gotWarn := warn != ""; gotWarn != tc.wantWarn {
				t.Errorf("warning = %q, want a warning: %v", warn, tc.wantWarn)
			}
			if strings.Contains(warn, tc.wantKey) {
				t.Errorf("warning %q leaks the key", warn)
			}
		})
	}
}
