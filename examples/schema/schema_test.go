package schema_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/roomwarden/roomwarden/examples/schema"
)

func TestGet(t *testing.T) {
	if got, want := schema.Names(), []string{"rules", "tests", "config"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	for _, name := range schema.Names() {
		got, err := schema.Get(name)
		if err != nil {
			t.Fatalf("Get(%q): %v", name, err)
		}
		want, err := os.ReadFile(name + ".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Get(%q) is not %s.schema.json", name, name)
		}
		got[0] = 'x' // the caller's copy: the next Get is unchanged
		if again, _ := schema.Get(name); !bytes.Equal(again, want) {
			t.Errorf("Get(%q) returned the embedded bytes, not a copy", name)
		}
	}
	for _, name := range []string{"", "rule", "Rules", "config.schema.json"} {
		if _, err := schema.Get(name); err == nil || !strings.Contains(err.Error(), "want rules, tests or config") {
			t.Errorf("Get(%q) error = %v, want one naming rules, tests and config", name, err)
		}
	}
}

// TestDraft2020 checks that each schema declares draft 2020-12 and is a
// valid schema of that draft (the meta-schema is built into the
// validator; nothing is fetched).
func TestDraft2020(t *testing.T) {
	c := jsonschema.NewCompiler()
	meta, err := c.Compile(draft2020)
	if err != nil {
		t.Fatalf("compile the draft 2020-12 meta-schema: %v", err)
	}
	for _, name := range schema.Names() {
		t.Run(name, func(t *testing.T) {
			doc := schemaDoc(t, name)
			if got := doc.(map[string]any)["$schema"]; got != draft2020 {
				t.Errorf("$schema = %v, want %s", got, draft2020)
			}
			if err := meta.Validate(doc); err != nil {
				t.Errorf("not a valid draft 2020-12 schema: %v", err)
			}
			compile(t, name) // every $ref resolves, every pattern compiles
		})
	}
}

// TestDescriptions checks that every property and every definition has
// a description: editors show it on hover and in completion.
func TestDescriptions(t *testing.T) {
	for _, name := range schema.Names() {
		t.Run(name, func(t *testing.T) {
			doc := schemaDoc(t, name).(map[string]any)
			var missing []string
			need := func(path string, v any) {
				if s, _ := v.(map[string]any); s == nil || s["description"] == nil || s["description"] == "" {
					missing = append(missing, path)
				}
			}
			need("(root)", doc)
			walkSchema(doc, "", func(path string, s map[string]any) {
				props, _ := s["properties"].(map[string]any)
				for k, p := range props {
					need(path+"/properties/"+k, p)
				}
				if ap, ok := s["additionalProperties"].(map[string]any); ok {
					need(path+"/additionalProperties", ap)
				}
			})
			defs, _ := doc["$defs"].(map[string]any)
			for k, d := range defs {
				need("/$defs/"+k, d)
			}
			slices.Sort(missing)
			for _, m := range missing {
				t.Errorf("%s has no description", m)
			}
		})
	}
}

// walkSchema calls fn for every schema object nested in s.
func walkSchema(s map[string]any, path string, fn func(string, map[string]any)) {
	fn(path, s)
	for k, v := range s {
		switch v := v.(type) {
		case map[string]any:
			if k == "properties" || k == "$defs" {
				for name, sub := range v {
					if sub, ok := sub.(map[string]any); ok {
						walkSchema(sub, path+"/"+k+"/"+name, fn)
					}
				}
				continue
			}
			walkSchema(v, path+"/"+k, fn)
		case []any:
			for _, item := range v {
				if sub, ok := item.(map[string]any); ok {
					walkSchema(sub, path+"/"+k, fn)
				}
			}
		}
	}
}
