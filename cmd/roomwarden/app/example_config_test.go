package app_test

import (
	"testing"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
)

// TestExampleConfig keeps examples/roomwarden.yaml loadable, valid and
// equal to the defaults it claims to list.
func TestExampleConfig(t *testing.T) {
	t.Setenv("ROOMWARDEN_SECRET_KEY", "k")
	cfg, err := app.LoadConfig("../../../examples/roomwarden.yaml")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := app.Default()
	want.RoomEngine.SDKAppID = 1400000000
	want.RoomEngine.SecretKeyEnv = "ROOMWARDEN_SECRET_KEY"
	if got, want := cfg.Executor, want.Executor; got != want {
		t.Errorf("executor = %+v, want the defaults %+v", got, want)
	}
	if cfg.Cooldowns != want.Cooldowns || cfg.HTTP != want.HTTP || cfg.ActionLog != want.ActionLog ||
		cfg.ShutdownTimeout != want.ShutdownTimeout || cfg.NATS.Embedded != want.NATS.Embedded {
		t.Errorf("example config differs from the defaults it documents:\n got %+v\nwant %+v", cfg, want)
	}
}
