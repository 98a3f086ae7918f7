package app_test

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
)

const exampleConfig = "../../../examples/roomwarden.yaml"

// TestExampleConfig keeps examples/roomwarden.yaml loadable, valid and
// what it says it is: every key of the config, each with its default
// (the Room Engine credentials aside, which have none).
func TestExampleConfig(t *testing.T) {
	t.Setenv("ROOMWARDEN_SECRET_KEY", "k")
	cfg, err := app.LoadConfig(exampleConfig)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := app.Default()
	want.RoomEngine.SDKAppID = 1400000000
	want.RoomEngine.SecretKeyEnv = "ROOMWARDEN_SECRET_KEY"
	if !reflect.DeepEqual(cfg, want) {
		got, _ := yaml.Marshal(cfg)
		def, _ := yaml.Marshal(want)
		t.Errorf("the example config differs from the defaults it documents:\n got:\n%s\nwant:\n%s", got, def)
	}

	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	listed, all := keyPaths(t, data), keyPaths(t, mustMarshal(t, app.Default()))
	for _, k := range all {
		if !slices.Contains(listed, k) && !namedInComment(k, data) {
			t.Errorf("the example config does not list %s", k)
		}
	}
}

// namedInComment reports whether key is one the example may name in a
// comment instead: roomengine.secret_key_file, the alternative to
// secret_key_env (exactly one of the two is set), is shown beside it.
func namedInComment(key string, data []byte) bool {
	return key == "roomengine.secret_key_file" && bytes.Contains(data, []byte("# or secret_key_file: "))
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// keyPaths lists the dotted paths of every key in a YAML document, such
// as nats.consumer.ack_wait (a mapping's own path included).
func keyPaths(t *testing.T, data []byte) []string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			out = append(out, prefix+k)
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
			}
		}
	}
	walk("", doc)
	slices.Sort(out)
	return out
}
