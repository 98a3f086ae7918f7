package rules

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sync/atomic"
	"unsafe"

	"gopkg.in/yaml.v3"
)

// List is a named list: static members, or the keys of a KV bucket.
type List struct {
	Name    string
	Members []string // static lists; nil for KV lists
	Bucket  string   // KV-backed lists; "" for static ones
	File    string
	Line    int

	index  int          // KV lists: the position in Set.KVLists
	sorted *sortedCache // KV lists: the members as a sorted slice
}

// listSpec is one named list under the top-level `lists:` key.
type listSpec struct {
	name   string
	key    *yaml.Node
	items  []string
	bucket string // {kv: BUCKET}; "" for static lists
}

var bucketRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (d *decoder) lists(n *yaml.Node) []listSpec {
	if isNull(n) {
		return nil
	}
	ks, vs := d.entries(n, "lists")
	out := make([]listSpec, 0, len(ks))
	for i, k := range ks {
		if !d.listName(k) {
			continue
		}
		l := listSpec{name: k.Value, key: k, items: []string{}}
		switch v := vs[i]; {
		case isNull(v):
		case v.Kind == yaml.MappingNode:
			l.bucket = d.kvList(v, k.Value)
			if l.bucket == "" {
				continue
			}
		case v.Kind == yaml.SequenceNode:
			l.items = d.strList(v, "list "+k.Value)
		default:
			d.errorf(v, "list %s must be a list such as [a, b] or a KV bucket such as {kv: BUCKET}, got %s", k.Value, describe(v))
			continue
		}
		out = append(out, l)
	}
	return out
}

// kvList reads {kv: BUCKET}; it returns "" after recording a problem.
func (d *decoder) kvList(n *yaml.Node, name string) string {
	var bucket string
	seen := d.fields(n, "list "+name, map[string]func(*yaml.Node){
		"kv": func(v *yaml.Node) {
			s, ok := d.str(v, "kv bucket")
			if ok && !bucketRE.MatchString(s) {
				d.errorf(v, "kv bucket %q must be letters, digits, '_' and '-' only", s)
				return
			}
			bucket = s
		},
	})
	if !seen["kv"] {
		d.errorf(n, "list %s is missing \"kv\", e.g. {kv: watched_users}", name)
	}
	return bucket
}

// listTable is every list of a set: static ones by name as expressions
// see them, and all of them as Lists.
type listTable struct {
	static map[string][]string // the env's lists.NAME for static lists
	byName map[string]*List
	kv     []*List // sorted by name; List.index is the position
}

// mergeLists merges the named lists of all files; a name defined twice
// is an error.
func mergeLists(srcs []Source, specs []fileSpec, errs *ErrorList) listTable {
	t := listTable{static: make(map[string][]string), byName: make(map[string]*List)}
	where := make(map[string]string)
	for i, f := range specs {
		for _, l := range f.lists {
			if prev, dup := where[l.name]; dup {
				errs.add(srcs[i].Path, l.key.Line, l.key.Column, "list %q is already defined at %s", l.name, prev)
				continue
			}
			where[l.name] = fmt.Sprintf("%s:%d:%d", srcs[i].Path, l.key.Line, l.key.Column)
			list := &List{Name: l.name, File: srcs[i].Path, Line: l.key.Line}
			if l.bucket != "" {
				list.Bucket, list.sorted = l.bucket, new(sortedCache)
				t.kv = append(t.kv, list)
			} else {
				list.Members = l.items
				t.static[l.name] = l.items
			}
			t.byName[l.name] = list
		}
	}
	slices.SortFunc(t.kv, func(a, b *List) int { return cmp.Compare(a.Name, b.Name) })
	for i, l := range t.kv {
		l.index = i
	}
	return t
}

// kvNames returns the names of the KV lists.
func (t listTable) kvNames() []string {
	out := make([]string, len(t.kv))
	for i, l := range t.kv {
		out[i] = l.Name
	}
	return out
}

// sortedCache keeps a KV list's members as a sorted slice for as long as
// the Reader returns the same map, so that a large list is sorted once
// per change and not on every event. It is shared by every Evaluator.
type sortedCache struct {
	p atomic.Pointer[sortedMembers]
}

type sortedMembers struct {
	m    unsafe.Pointer // the map the slice was built from
	n    int
	list []string
}

// sortedOf returns the members of m sorted. The slice is shared and
// must not be modified.
func (c *sortedCache) sortedOf(m map[string]struct{}) []string {
	id := reflect.ValueOf(m).UnsafePointer()
	if s := c.p.Load(); s != nil && s.m == id && s.n == len(m) {
		return s.list
	}
	list := slices.Sorted(maps.Keys(m))
	if list == nil {
		list = []string{}
	}
	c.p.Store(&sortedMembers{m: id, n: len(m), list: list})
	return list
}

// listName reports whether key k is a valid list name, noting the error
// if not.
func (d *decoder) listName(k *yaml.Node) bool {
	if !listNameRE.MatchString(k.Value) {
		d.errorf(k, "list name %q must be a letter or _ followed by letters, digits or _", k.Value)
		return false
	}
	return true
}
