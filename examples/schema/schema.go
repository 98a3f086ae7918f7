// Package schema holds the JSON Schemas (draft 2020-12) of roomwarden's
// YAML files: rule files, rule test files and the config file. Editors
// (VS Code's YAML extension, any yaml-language-server client) use them to
// complete keys, show each key's description and flag unknown keys and
// wrong types while a file is typed; `roomwarden schema NAME` prints them.
// They are hand-written and embedded; tests keep them in step with the
// loaders and the config type.
package schema

import (
	"embed"
	"fmt"
)

//go:embed rules.schema.json tests.schema.json config.schema.json
var files embed.FS

// names are the schemas, in the order usage text lists them.
var names = []string{"rules", "tests", "config"}

// Names returns the names Get accepts: rules, tests and config.
func Names() []string { return append([]string(nil), names...) }

// Get returns the schema called name: "rules" (rule files), "tests"
// (rule test files) or "config" (the config file). The bytes are the
// caller's own copy.
func Get(name string) ([]byte, error) {
	for _, n := range names {
		if n == name {
			return files.ReadFile(n + ".schema.json")
		}
	}
	return nil, fmt.Errorf("unknown schema %q: want rules, tests or config", name)
}
