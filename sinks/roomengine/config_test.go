package roomengine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	valid := func() Config {
		return Config{Endpoint: "https://adminapisgp.im.qcloud.com", SDKAppID: 1400000000, Identifier: "admin", SecretKey: []byte("k")}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means New succeeds
	}{
		{"defaults", func(*Config) {}, ""},
		{"trailing slash", func(c *Config) { c.Endpoint = "http://127.0.0.1:9470/" }, ""},
		{"empty endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint \"\" is empty"},
		{"no scheme", func(c *Config) { c.Endpoint = "adminapisgp.im.qcloud.com" }, "http or https scheme"},
		{"ftp", func(c *Config) { c.Endpoint = "ftp://h" }, "http or https scheme"},
		{"with path", func(c *Config) { c.Endpoint = "https://h/v4/room_engine_http_mic/lock_seat" }, "more than a scheme and host"},
		{"with query", func(c *Config) { c.Endpoint = "https://h?x=1" }, "more than a scheme and host"},
		{"with user", func(c *Config) { c.Endpoint = "https://u:p@h" }, "more than a scheme and host"},
		{"no sdkappid", func(c *Config) { c.SDKAppID = 0 }, "sdkappid is not set"},
		{"no identifier", func(c *Config) { c.Identifier = "" }, "identifier is not set"},
		{"no key", func(c *Config) { c.SecretKey = nil }, "secret key is empty"},
		{"short ttl", func(c *Config) { c.UserSigTTL = time.Second }, "usersig_ttl 1s is too short"},
		{"timeout at backend", func(c *Config) { c.Timeout = 3 * time.Second }, "must be above the backend's 3s"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.edit(&cfg)
			c, err := New(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New err = %v, want one containing %q", err, tc.want)
			case err == nil:
				c.Close()
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	c, err := New(Config{Endpoint: "https://h/", SDKAppID: 5, Identifier: "a b", SecretKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.hc.Timeout != DefaultTimeout || c.sigs.ttl != DefaultUserSigTTL {
		t.Errorf("timeout %v ttl %v, want %v %v", c.hc.Timeout, c.sigs.ttl, DefaultTimeout, DefaultUserSigTTL)
	}
	if want := "https://h" + LockSeatPath + "?sdkappid=5&identifier=a+b&usersig="; c.prefix != want {
		t.Errorf("prefix = %q, want %q", c.prefix, want)
	}
}

func TestPlaintextRemote(t *testing.T) {
	tests := []struct {
		endpoint string
		want     bool
	}{
		{"http://127.0.0.1:9470", false},
		{"http://localhost:9470", false},
		{"http://[::1]:9470", false},
		{"https://adminapisgp.im.qcloud.com", false},
		{"http://adminapisgp.im.qcloud.com", true},
		{"http://10.0.0.5", true},
	}
	for _, tc := range tests {
		t.Run(tc.endpoint, func(t *testing.T) {
			if got := plaintextRemote(tc.endpoint); got != tc.want {
				t.Errorf("plaintextRemote = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadSecretKey(t *testing.T) {
	const secret = "s3cr3t-value"
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("  "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RW_TEST_KEY", secret+"\n")
	t.Setenv("RW_TEST_EMPTY", "")
	tests := []struct {
		name, env, file string
		wantErr         string
	}{
		{"env", "RW_TEST_KEY", "", ""},
		{"file", "", keyFile, ""},
		{"empty env", "RW_TEST_EMPTY", "", "RW_TEST_EMPTY is empty or unset"},
		{"unset env", "RW_TEST_NOT_SET_ANYWHERE", "", "is empty or unset"},
		{"empty file", "", emptyFile, "is empty"},
		{"missing file", "", filepath.Join(dir, "nope"), "read secret key file"},
		{"both", "RW_TEST_KEY", keyFile, "not both"},
		{"neither", "", "", "no secret key source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := LoadSecretKey(tc.env, tc.file)
			if tc.wantErr == "" {
				if err != nil || string(key) != secret {
					t.Fatalf("LoadSecretKey = %q, %v; want the trimmed key", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q reveals the key", err)
			}
		})
	}
}
