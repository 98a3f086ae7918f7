package schema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/roomwarden/roomwarden/examples/schema"
)

// draft2020 is the meta-schema every schema here is written against.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// compile compiles the schema called name, asserting formats (date-time)
// as editors do.
func compile(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	doc := schemaDoc(t, name)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "mem:///" + name + ".schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("add %s schema: %v", name, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s schema: %v", name, err)
	}
	return sch
}

// schemaDoc returns the schema called name as jsonschema's JSON value.
func schemaDoc(t *testing.T, name string) any {
	t.Helper()
	data, err := schema.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s schema is not JSON: %v", name, err)
	}
	return doc
}

// yamlToJSON decodes one YAML document the way an editor's YAML 1.2
// parser sees it and returns it as a JSON value for the validator: an
// unquoted 2026-01-01 stays the text it is (yaml.v3 would make it a
// time), and a key repeated in a mapping is an error.
func yamlToJSON(data []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var v any
	if len(doc.Content) > 0 {
		var err error
		if v, err = nodeValue(doc.Content[0]); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// nodeValue converts a YAML node to a JSON-encodable value.
func nodeValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("line %d: key %q repeated in a mapping", n.Content[i].Line, k)
			}
			v, err := nodeValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		return v, nil
	}
	return n.Value, nil // !!str, and !!timestamp: YAML 1.2 has no timestamps
}

// validateFile validates a YAML file against sch.
func validateFile(t *testing.T, sch *jsonschema.Schema, path string) error {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return validateYAML(t, sch, data)
}

// validateYAML validates YAML text against sch; it fails the test if the
// text is not YAML at all.
func validateYAML(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	v, err := yamlToJSON(data)
	if err != nil {
		t.Fatalf("not YAML: %v\n%s", err, data)
	}
	return sch.Validate(v)
}
