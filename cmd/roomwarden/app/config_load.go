package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a config duration, written as a Go duration string such
// as 200ms, 30s or 24h.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a duration such as 30s or 5m")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration: want a number with a unit, such as 500ms, 30s or 5m", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// LoadConfig reads a config file over the defaults. It is strict: an
// unknown key or a value of the wrong type is an error naming the file,
// line and column. It does not validate; call Validate.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg := Default()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil // an empty file: all defaults
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if errs := checkNode(root, reflect.TypeFor[Config](), ""); len(errs) > 0 {
		for i := range errs {
			errs[i] = fmt.Errorf("%s:%w", path, errs[i])
		}
		return nil, errors.Join(errs...)
	}
	// Lists (subjects, backoff) replace the defaults; mappings merge.
	if err := root.Decode(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

var durationType = reflect.TypeFor[Duration]()

// checkNode reports, with line and column, every key of n that t does
// not have and every value that does not decode into its field's type.
func checkNode(n *yaml.Node, t reflect.Type, path string) []error {
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		return checkMapping(n, t, path)
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		var errs []error
		for i, item := range n.Content {
			errs = append(errs, checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return []error{posError(n, path, yamlMessage(err))}
	}
	return nil
}

func checkMapping(n *yaml.Node, t reflect.Type, path string) []error {
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []error{posError(n, path, "want a mapping of keys to values")}
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		f, ok := fieldByTag(t, key.Value)
		sub := strings.TrimPrefix(path+"."+key.Value, ".")
		if !ok {
			errs = append(errs, posError(key, sub, fmt.Sprintf("unknown key (want one of %s)", strings.Join(tagNames(t), ", "))))
			continue
		}
		errs = append(errs, checkNode(val, f.Type, sub)...)
	}
	return errs
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("yaml") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagNames(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("yaml")
	}
	return names
}

func posError(n *yaml.Node, path, msg string) error {
	return fmt.Errorf("%d:%d: %s: %s", n.Line, n.Column, path, msg)
}

var yamlLinePrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\n\s*)?(line \d+: )?`)

// yamlMessage strips yaml.v3's own position prefix: ours is more precise.
func yamlMessage(err error) string {
	return yamlLinePrefix.ReplaceAllString(err.Error(), "")
}
