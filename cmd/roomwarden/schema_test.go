package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/examples/schema"
)

func TestSchemaPrints(t *testing.T) {
	for _, name := range []string{"rules", "tests", "config"} {
		t.Run(name, func(t *testing.T) {
			want, err := schema.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCmd(t, "schema", name)
			if code != 0 || stdout != string(want) || stderr != "" {
				t.Fatalf("roomwarden schema %s = %d, stderr %q, stdout %d bytes; want 0, no stderr, the %s schema",
					name, code, stderr, len(stdout), name)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatalf("stdout is not JSON: %v", err)
			}
			if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %v, want draft 2020-12", doc["$schema"])
			}
		})
	}
}

func TestSchemaUsage(t *testing.T) {
	runCases(t, []cmdCase{
		{name: "-h", args: []string{"schema", "-h"}, wantCode: 0, wantStdout: schemaUsage},
		{name: "--help", args: []string{"schema", "--help"}, wantCode: 0, wantStdout: schemaUsage},
		{name: "no kind", args: []string{"schema"}, wantCode: 2, wantStderr: schemaUsage},
		{name: "two kinds", args: []string{"schema", "rules", "tests"}, wantCode: 2, wantStderr: schemaUsage},
		{name: "unknown kind", args: []string{"schema", "rule"}, wantCode: 2,
			wantStderr: "roomwarden schema: unknown schema \"rule\": want rules, tests or config\n"},
		{name: "unknown flag", args: []string{"schema", "-x", "rules"}, wantCode: 2,
			wantStderr: "flag provided but not defined: -x\n" + schemaUsage},
	})
}

func TestUsageListsSchema(t *testing.T) {
	if !strings.Contains(usage, "\n  schema KIND ") {
		t.Errorf("the usage text does not list the schema command:\n%s", usage)
	}
}
