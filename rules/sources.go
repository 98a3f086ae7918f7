package rules

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReadSources reads the rules files at paths (files, or directories read
// one level deep), skipping rule tests and dot files. The error is an
// ErrorList naming every path that could not be read.
func ReadSources(paths ...string) ([]Source, error) {
	var (
		srcs []Source
		errs ErrorList
		seen = make(map[string]bool)
	)
	for _, p := range paths {
		files, err := ruleFiles(p)
		if err != nil {
			errs.add(p, 0, 0, "%s", pathErrorText(err))
			continue
		}
		for _, f := range files {
			if seen[filepath.Clean(f)] {
				continue
			}
			seen[filepath.Clean(f)] = true
			data, err := os.ReadFile(f)
			if err != nil {
				errs.add(f, 0, 0, "%s", pathErrorText(err))
				continue
			}
			srcs = append(srcs, Source{Path: f, Data: data})
		}
	}
	return srcs, errs.err()
}

// ruleFiles lists the rules files at p: p itself if it is a file, else
// the rules files directly inside it, sorted by name.
func ruleFiles(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		if IsTestFile(p) {
			return nil, nil
		}
		return []string{p}, nil
	}
	return filesIn(p, IsRuleFile)
}

// filesIn lists the regular files (or links to them) directly in dir
// whose names satisfy keep, sorted by name.
func filesIn(dir string, keep func(string) bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !keep(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out, nil
}

// IsRuleFile reports whether name is a rules file: *.yaml or *.yml, not
// a rule test, not a dot file.
func IsRuleFile(name string) bool {
	base := filepath.Base(name)
	return isYAML(base) && !IsTestFile(base) && !strings.HasPrefix(base, ".")
}

// IsTestFile reports whether name is a rule test file: *_test.yaml or
// *_test.yml.
func IsTestFile(name string) bool {
	base := filepath.Base(name)
	return strings.HasSuffix(base, "_test.yaml") || strings.HasSuffix(base, "_test.yml")
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// pathErrorText drops the path from an *fs.PathError; Error adds it.
func pathErrorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
