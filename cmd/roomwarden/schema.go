package main

import (
	"fmt"
	"io"

	"github.com/roomwarden/roomwarden/examples/schema"
)

const schemaUsage = `usage: roomwarden schema rules|tests|config

Prints the JSON Schema (draft 2020-12) of rule files (rules), rule test
files (tests) or the config file (config), for editors that check YAML
as it is typed (VS Code's YAML extension: see the README):

  roomwarden schema rules > rules.schema.json
`

// runSchema implements `roomwarden schema`.
func runSchema(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("schema", schemaUsage)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	data, err := schema.Get(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden schema: %v\n", err)
		return 2
	}
	if _, err := stdout.Write(data); err != nil {
		fmt.Fprintf(stderr, "roomwarden schema: %v\n", err)
		return 1
	}
	return 0
}
