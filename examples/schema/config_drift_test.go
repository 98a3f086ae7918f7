package schema_test

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
)

// secondStage are the config keys that the schema documents before
// app.Config has them: the second stage is adding them now. The lead
// deletes each entry as its key lands in app.Config (the test fails
// until then, to say so); then the list is empty and stays so.
var secondStage = []string{}

// TestConfigSchemaMatchesStruct walks app.Config by reflection beside
// the config schema: a key in one and not the other, or a key whose
// schema type does not fit its Go type, fails, so the two cannot drift.
func TestConfigSchemaMatchesStruct(t *testing.T) {
	doc := schemaDoc(t, "config").(map[string]any)
	var problems []string
	compareType(doc, doc, reflect.TypeFor[app.Config](), "", &problems)
	for _, p := range problems {
		t.Error(p)
	}
}

var durationType = reflect.TypeFor[app.Duration]()

// compareType checks schema s against Go type typ at key path.
func compareType(root, s map[string]any, typ reflect.Type, path string, problems *[]string) {
	fail := func(format string, args ...any) {
		*problems = append(*problems, fmt.Sprintf("%s: ", label(path))+fmt.Sprintf(format, args...))
	}
	if typ == durationType {
		if s["$ref"] != "#/$defs/duration" {
			fail("an app.Duration; want {\"$ref\": \"#/$defs/duration\"}, got %v", s)
		}
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		s = resolve(root, ref)
	}
	want := map[reflect.Kind]string{
		reflect.String: "string", reflect.Bool: "boolean", reflect.Slice: "array", reflect.Struct: "object",
		reflect.Int: "integer", reflect.Int64: "integer", reflect.Uint64: "integer", reflect.Uint: "integer",
	}[typ.Kind()]
	if want == "" {
		fail("Go type %s has no schema mapping in this test", typ)
		return
	}
	if got := schemaTypes(s); !slices.Equal(got, []string{want}) && !(want == "object" && slices.Equal(got, []string{"null", "object"})) {
		fail("Go type %s wants schema type %q, got %q", typ, want, got)
	}
	switch typ.Kind() {
	case reflect.Uint, reflect.Uint64:
		if m, err := strconv.ParseFloat(fmt.Sprint(s["minimum"]), 64); err != nil || m < 0 {
			fail("unsigned: want a minimum of 0 or more")
		}
	case reflect.Slice:
		items, _ := s["items"].(map[string]any)
		if items == nil {
			fail("want items")
			return
		}
		compareType(root, items, typ.Elem(), path+"[]", problems)
	case reflect.Struct:
		compareStruct(root, s, typ, path, problems)
	}
}

// compareStruct checks the keys of an object schema against the yaml
// tags of a struct.
func compareStruct(root, s map[string]any, typ reflect.Type, path string, problems *[]string) {
	fail := func(key, format string, args ...any) {
		*problems = append(*problems, fmt.Sprintf("%s: ", label(join(path, key)))+fmt.Sprintf(format, args...))
	}
	if s["additionalProperties"] != false {
		fail("", "want additionalProperties: false (the loader is strict)")
	}
	props, _ := s["properties"].(map[string]any)
	fields := map[string]bool{}
	for f := range typ.Fields() {
		tag := f.Tag.Get("yaml")
		fields[tag] = true
		key := join(path, tag)
		if slices.Contains(secondStage, key) {
			fail(tag, "app.Config has it now: delete it from secondStage in this test")
		}
		p, ok := props[tag].(map[string]any)
		if !ok {
			fail(tag, "in app.Config (%s.%s), not in config.schema.json", typ.Name(), f.Name)
			continue
		}
		compareType(root, p, f.Type, key, problems)
	}
	for key := range props {
		if !fields[key] && !slices.Contains(secondStage, join(path, key)) {
			fail(key, "in config.schema.json, not in app.Config (%s)", typ.Name())
		}
	}
}

// resolve follows a local reference such as #/$defs/duration.
func resolve(root map[string]any, ref string) map[string]any {
	var cur any = root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[tok]
	}
	out, _ := cur.(map[string]any)
	return out
}

// schemaTypes returns the sorted values of a schema's type keyword.
func schemaTypes(s map[string]any) []string {
	var out []string
	switch v := s["type"].(type) {
	case string:
		out = []string{v}
	case []any:
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
	}
	slices.Sort(out)
	return out
}

func join(path, key string) string {
	if path == "" || key == "" {
		return path + key
	}
	return path + "." + key
}

func label(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}
