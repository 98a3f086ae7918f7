package rules

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/expr-lang/expr/vm"
)

// Source is the content of one rules file.
type Source struct {
	Path string
	Data []byte
}

// Set is an immutable, compiled set of rules: safe to share between
// goroutines, replaced as a whole on reload.
type Set struct {
	rules         []*Rule
	byType        map[string]*typeIndex
	types         []string
	files         []string
	sym           *symbols // lists and windows
	windowsByType map[string][]*Window
	hash          string
	warnings      ErrorList
}

// Load reads and compiles the rules files at paths: files, or
// directories whose *.yaml and *.yml files are read (not recursively).
// Rule tests (*_test.yaml) and dot files are skipped. Loading is all or
// nothing: the error is an ErrorList holding every problem found.
func Load(paths ...string) (*Set, error) {
	srcs, readErr := ReadSources(paths...)
	set, err := Compile(srcs...)
	if readErr == nil {
		return set, err
	}
	var all ErrorList
	for _, e := range []error{readErr, err} {
		var l ErrorList
		if errors.As(e, &l) {
			all = append(all, l...)
		}
	}
	return nil, all.err()
}

// Compile compiles rules files already read. The error is an ErrorList
// holding every problem found.
func Compile(srcs ...Source) (*Set, error) {
	return compileSources(srcs, hashSources(srcs))
}

func compileSources(srcs []Source, hash string) (*Set, error) {
	var errs, warns ErrorList
	specs := make([]fileSpec, len(srcs))
	for i, src := range srcs {
		specs[i] = parseFile(src.Path, src.Data, &errs)
	}
	windows, byFile := mergeWindows(srcs, specs, &errs)
	sym := newSymbols(mergeLists(srcs, specs, &errs), windows)
	s := &Set{hash: hash, sym: sym}
	firstUse := make(map[string]Error)
	for i, src := range srcs {
		c := &compiler{path: src.Path, data: src.Data, sym: sym, errs: &errs, warns: &warns}
		for j, ws := range specs[i].windows {
			if w := byFile[i][j]; w != nil {
				c.compileWindow(ws, w)
			}
		}
		for _, rs := range specs[i].rules {
			r := c.compileRule(rs)
			checkUnique(r, rs, firstUse, &errs)
			s.rules = append(s.rules, r)
		}
		s.files = append(s.files, src.Path)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	hashRules(s.rules, specs)
	sym.warnUnread(&warns)
	sym.loaded()
	warns.sort()
	s.warnings = warns
	s.index()
	return s, nil
}

// hashRules sets each rule's Hash. It runs once every rule is compiled,
// so that the compiled programs, which evaluation walks, lie together
// in memory.
func hashRules(rules []*Rule, specs []fileSpec) {
	i := 0
	for _, f := range specs {
		for _, rs := range f.rules {
			rules[i].Hash = nodeHash(rs.node)
			i++
		}
	}
}

// checkUnique reports a rule name already used by another rule.
func checkUnique(r *Rule, rs ruleSpec, firstUse map[string]Error, errs *ErrorList) {
	if rs.nameNode == nil || r.Name == "" {
		return
	}
	if prev, dup := firstUse[r.Name]; dup {
		errs.add(r.File, rs.nameNode.Line, rs.nameNode.Column,
			"rule name %q is already used at %s:%d:%d", r.Name, prev.Path, prev.Line, prev.Col)
		return
	}
	firstUse[r.Name] = Error{Path: r.File, Line: rs.nameNode.Line, Col: rs.nameNode.Column}
}

// typeIndex is what evaluating an event of one type walks: the enabled
// rules listening for it, in load order, and side by side their
// conditions' programs (nil for a constant condition), so that a rule
// that does not match costs as few memory reads as it can. sel, when
// not nil, picks the rules that can match a given event (index.go);
// else all, every position, is the candidates of every event.
type typeIndex struct {
	rules []*Rule
	whens []*vm.Program
	all   []int32
	sel   *ruleIndex
}

// index builds the per-event-type candidate lists, in load order, and
// the rule index of each type.
func (s *Set) index() {
	s.byType = make(map[string]*typeIndex)
	seen := make(map[string]bool)
	for _, r := range s.rules {
		for _, t := range r.On {
			if !seen[t] {
				seen[t] = true
				s.types = append(s.types, t)
			}
			if r.Enabled {
				s.indexRule(t, r)
			}
		}
	}
	slices.Sort(s.types)
	s.indexKeys()
	s.windowsByType = make(map[string][]*Window)
	for _, w := range s.sym.windows {
		for _, t := range w.On {
			s.windowsByType[t] = append(s.windowsByType[t], w)
		}
	}
}

func (s *Set) indexRule(eventType string, r *Rule) {
	idx := s.byType[eventType]
	if idx == nil {
		idx = &typeIndex{}
		s.byType[eventType] = idx
	}
	var prog *vm.Program
	if !r.when.isConst {
		prog = r.when.prog
	}
	idx.all = append(idx.all, int32(len(idx.rules)))
	idx.rules = append(idx.rules, r)
	idx.whens = append(idx.whens, prog)
}

// indexKeys builds each type's rule index from the rules' keys, which
// are found once per rule.
func (s *Set) indexKeys() {
	keys := make(map[*Rule][]indexKey)
	for _, r := range s.rules {
		if r.Enabled {
			keys[r] = ruleKeys(r, s.sym.lists.static)
		}
	}
	room := maxIndexEntries
	for _, t := range s.types {
		idx := s.byType[t]
		if idx == nil {
			continue // only disabled rules listen for t
		}
		ks := make([][]indexKey, len(idx.rules))
		for i, r := range idx.rules {
			ks[i] = keys[r]
		}
		idx.sel = newRuleIndex(t, ks, &room)
	}
}

// hashSources hashes the paths and contents of srcs.
func hashSources(srcs []Source) string {
	h := sha256.New()
	var n [8]byte
	for _, src := range srcs {
		for _, b := range [][]byte{[]byte(src.Path), src.Data} {
			binary.BigEndian.PutUint64(n[:], uint64(len(b)))
			h.Write(n[:])
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Warnings returns what the load could see of the evaluation budgets
// that rules will exceed when they run, sorted by position: a rule
// whose loops or strings are too big for them still loads, and fails
// with a budget error on each event that reaches that code. `roomwarden
// check` prints them. The slice must not be modified.
func (s *Set) Warnings() []Error { return s.warnings }

// Hash returns the SHA-256 of the loaded files' paths and contents.
func (s *Set) Hash() string { return s.hash }

// Len returns the number of rules, disabled ones included.
func (s *Set) Len() int { return len(s.rules) }

// Rules returns every rule in load order: files in the order read, rules
// in file order. The slice must not be modified.
func (s *Set) Rules() []*Rule { return s.rules }

// Rule returns the rule with the given name, or nil.
func (s *Set) Rule(name string) *Rule {
	for _, r := range s.rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Types returns the sorted event types that the rules listen for
// (windows aside: see WindowsFor).
func (s *Set) Types() []string { return s.types }

// Files returns the paths of the loaded rules files.
func (s *Set) Files() []string { return s.files }

// Lists returns the named lists, static and KV-backed. The map must
// not be modified.
func (s *Set) Lists() map[string]*List { return s.sym.lists.byName }

// KVLists returns the KV-backed lists, sorted by name. The slice must
// not be modified.
func (s *Set) KVLists() []*List { return s.sym.lists.kv }

// Windows returns the windows in load order. The slice must not be
// modified.
func (s *Set) Windows() []*Window { return s.sym.windows }

// Window returns the window with the given name, or nil.
func (s *Set) Window(name string) *Window {
	if i, ok := s.sym.windowIndex[name]; ok {
		return s.sym.windows[i]
	}
	return nil
}

// WindowsFor returns the windows whose On holds eventType, in load
// order. The slice must not be modified.
func (s *Set) WindowsFor(eventType string) []*Window { return s.windowsByType[eventType] }

// Candidates returns the enabled rules that listen for eventType, in load
// order. The slice must not be modified. Eval evaluates fewer of them
// on an event when the rule index shows that the others cannot match
// it (index.go); Explain explains them all.
func (s *Set) Candidates(eventType string) []*Rule {
	if idx := s.byType[eventType]; idx != nil {
		return idx.rules
	}
	return nil
}
