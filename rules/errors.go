package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found in a rules or rule-test file. Line and Col
// are 1-based; 0 means unknown (a missing file has neither, and YAML
// syntax errors carry only a line).
type Error struct {
	Path string
	Line int
	Col  int
	Msg  string
}

// Error formats the problem as "path:line:col: message", leaving out the
// parts that are unknown.
func (e Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	case e.Col == 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
}

// ErrorList is every problem found by one load, sorted by file and
// position. Print it one Error per line.
type ErrorList []Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// add appends a problem.
func (l *ErrorList) add(path string, line, col int, format string, args ...any) {
	*l = append(*l, Error{Path: path, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil for an empty list, else the list sorted by position.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.sort()
	return l
}

// sort sorts the list by position.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}
