package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder reads YAML nodes strictly, collecting every problem with the
// position of the node that caused it.
type decoder struct {
	path    string
	errs    *ErrorList
	aliases int // alias expansions so far; bounded against alias bombs
}

// maxAliases bounds alias expansions per file: nested lists of aliases
// would otherwise make a small file expand into millions of rules.
const maxAliases = 1000

// errorf records a problem at node n.
func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.add(d.path, n.Line, n.Column, format, args...)
}

// parseDocument parses data as a single YAML document. It returns nil for
// an empty document.
func (d *decoder) parseDocument(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "a file holds one YAML document; remove the extra \"---\"")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return d.resolve(doc.Content[0])
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError records a YAML syntax error; yaml.v3 reports only its line.
func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errs.add(d.path, line, 0, "invalid YAML: %s", m[2])
		return
	}
	d.errs.add(d.path, 0, 0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// resolve follows aliases to the node they name. Past maxAliases
// expansions it reports an error once and returns an empty node.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	if n == nil || n.Kind != yaml.AliasNode {
		return n
	}
	if d.aliases++; d.aliases > maxAliases {
		if d.aliases == maxAliases+1 {
			d.errorf(n, "too many alias expansions (more than %d)", maxAliases)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	return resolve(n)
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields walks mapping n, calling the function registered for each key
// in file order. Unknown and repeated keys are errors. It returns the
// keys seen, for required-field checks.
func (d *decoder) fields(n *yaml.Node, what string, fns map[string]func(*yaml.Node)) map[string]bool {
	seen := make(map[string]bool, len(fns))
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, got %s", what, describe(n))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], d.resolve(n.Content[i+1])
		fn, ok := fns[k.Value]
		switch {
		case !ok:
			d.errorf(k, "unknown field %q in %s%s", k.Value, what, suggest(k.Value, keys(fns)))
		case seen[k.Value]:
			d.errorf(k, "field %q repeated in %s", k.Value, what)
		default:
			seen[k.Value] = true
			fn(v)
		}
	}
	return seen
}

// entries returns the key and value nodes of mapping n in file order,
// reporting repeated keys.
func (d *decoder) entries(n *yaml.Node, what string) (ks, vs []*yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, got %s", what, describe(n))
		return nil, nil
	}
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			d.errorf(k, "key %q repeated in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		ks, vs = append(ks, k), append(vs, d.resolve(n.Content[i+1]))
	}
	return ks, vs
}

// items returns the items of sequence n.
func (d *decoder) items(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, got %s", what, describe(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = d.resolve(c)
	}
	return out
}

// str reads a scalar as a string.
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "%s must be a string, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// boolean reads a YAML true or false.
func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, "%s must be true or false, got %s", what, describe(n))
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.errorf(n, "%s must be true or false, got %s", what, describe(n))
		return false, false
	}
	return b, true
}

// integer reads a YAML integer.
func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		d.errorf(n, "%s must be an integer, got %s", what, describe(n))
		return 0, false
	}
	return v, true
}

// number reads a YAML integer or float.
func (d *decoder) number(n *yaml.Node, what string) (float64, bool) {
	var v float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil {
		d.errorf(n, "%s must be a number, got %s", what, describe(n))
		return 0, false
	}
	return v, true
}

// duration reads a positive Go duration such as 90s or 5m.
func (d *decoder) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.errorf(n, "%s must be a positive duration such as 30s or 5m, got %q", what, s)
		return 0, false
	}
	return v, true
}

// timestamp reads an RFC 3339 time.
func (d *decoder) timestamp(n *yaml.Node, what string) (time.Time, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return time.Time{}, false
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.errorf(n, "%s must be an RFC 3339 time such as 2026-11-25T21:00:00Z, got %q", what, s)
		return time.Time{}, false
	}
	return v, true
}

// strList reads a list of non-empty strings.
func (d *decoder) strList(n *yaml.Node, what string) []string {
	var out []string
	for _, it := range d.items(n, what) {
		s, ok := d.str(it, what+" item")
		if ok && s == "" {
			d.errorf(it, "%s item must not be empty", what)
			continue
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// describe names a node's kind for error messages.
func describe(n *yaml.Node) string {
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// suggest returns a "; did you mean" hint for a misspelt name, or the
// list of known names when none is close.
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(got, k); dist < bestDist && 2*dist < len(k) {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
