package rules

import (
	"reflect"
	"strconv"
	"time"
)

// valueSize measures a value the way the builtins that walk it see it:
// lists that share their elements (map(r, r) holds r many times) are
// counted every time an element is reached, so a small value can measure
// huge. Walks stop as soon as a limit is passed, so measuring costs at
// most the limit.
type valueSize struct {
	values    int // values visited, containers and their elements
	bytes     int // the estimated length of the value formatted as text
	indent    bool
	maxValues int // stop once values or bytes pass these
	maxBytes  int
}

// countValues returns the number of values in v, or a number past
// limit.
func countValues(v any, limit int) int {
	s := &valueSize{maxValues: limit, maxBytes: maxCount}
	s.walk(reflect.ValueOf(v), 0)
	return s.values
}

// formattedSize estimates the length of v formatted by string() or, if
// indent, by toJSON(), and counts the values visited. It stops once the
// length passes maxBytes or the count passes maxValues.
func formattedSize(v any, indent bool, maxBytes, maxValues int) (bytes, values int) {
	s := &valueSize{indent: indent, maxValues: maxValues, maxBytes: maxBytes}
	s.walk(reflect.ValueOf(v), 0)
	return s.bytes, s.values
}

// done reports whether a limit has been passed.
func (s *valueSize) done() bool { return s.values > s.maxValues || s.bytes > s.maxBytes }

var timeType = reflect.TypeFor[time.Time]()

func (s *valueSize) walk(v reflect.Value, depth int) {
	if s.done() {
		return
	}
	s.values++
	s.bytes += 2 // separators and brackets
	if s.indent {
		s.bytes += 2 * depth
	}
	switch v.Kind() {
	case reflect.Invalid:
		s.bytes += 4
	case reflect.Interface, reflect.Pointer:
		s.values--
		s.walk(v.Elem(), depth)
	case reflect.String:
		s.bytes += v.Len()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s.bytes += len(strconv.FormatInt(v.Int(), 10))
	case reflect.Slice, reflect.Array:
		s.walkList(v, depth)
	case reflect.Map:
		s.walkMap(v, depth)
	case reflect.Struct:
		s.walkStruct(v, depth)
	default: // bool, floats, unsigned, durations, functions
		s.bytes += 24
	}
}

func (s *valueSize) walkList(v reflect.Value, depth int) {
	if v.Type().Elem().Kind() == reflect.Uint8 { // []byte, formatted as one value
		s.bytes += 2 * v.Len()
		return
	}
	for i := 0; i < v.Len() && !s.done(); i++ {
		s.walk(v.Index(i), depth+1)
	}
}

func (s *valueSize) walkMap(v reflect.Value, depth int) {
	for it := v.MapRange(); it.Next() && !s.done(); {
		s.walk(it.Key(), depth+1)
		s.walk(it.Value(), depth+1)
	}
}

func (s *valueSize) walkStruct(v reflect.Value, depth int) {
	if v.Type() == timeType {
		s.bytes += 40
		return
	}
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() {
			s.bytes += len(f.Name) + 4
			s.walk(v.Field(i), depth+1)
		}
	}
}
