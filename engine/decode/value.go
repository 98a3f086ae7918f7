package decode

import (
	"strconv"
)

// fieldPath names a field for error messages, `base[index].key` with
// index and key optional, and is only turned into a string when an error
// needs it.
type fieldPath struct {
	base  string
	index int // -1: none
	key   string
}

func field(base string) fieldPath { return fieldPath{base: base, index: -1} }

func elem(base string, i int) fieldPath { return fieldPath{base: base, index: i} }

func (p fieldPath) child(key string) fieldPath {
	return fieldPath{base: p.base, index: p.index, key: key}
}

func (p fieldPath) String() string {
	s := p.base
	if p.index >= 0 {
		s += "[" + strconv.Itoa(p.index) + "]"
	}
	if p.key != "" {
		s += "." + p.key
	}
	return s
}

// Typed readers for known fields. Each consumes one value and replaces
// the destination with it; null sets the zero value, as if the field
// were absent (so of duplicate keys, the last wins, null included); any
// other JSON type is a *Error naming the field, e.g.
// `seat.index: want integer, got string "two"`.

func (s *scanner) stringValue(p fieldPath, dst *string) error {
	switch s.ws() {
	case '"':
		v, err := s.text()
		if err != nil {
			return err
		}
		*dst = v
		return nil
	case 'n':
		*dst = ""
		return s.literal("null")
	}
	return s.wrongType(p, "string")
}

func (s *scanner) boolValue(p fieldPath, dst *bool) error {
	switch s.ws() {
	case 't':
		*dst = true
		return s.literal("true")
	case 'f':
		*dst = false
		return s.literal("false")
	case 'n':
		*dst = false
		return s.literal("null")
	}
	return s.wrongType(p, "boolean")
}

// int64Value reads an integer; present reports whether it was not null.
func (s *scanner) int64Value(p fieldPath, dst *int64) (present bool, err error) {
	if s.null() {
		*dst = 0
		return false, nil
	}
	start := s.pos
	num, err := s.numberOrWrongType(p, "integer")
	if err != nil {
		return false, err
	}
	v, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		s.pos = start
		return false, s.wrongType(p, "integer")
	}
	*dst = v
	return true, nil
}

// seatIndexValue reads a seat index, 0 to MaxSeatIndex; present reports
// whether it was not null.
func (s *scanner) seatIndexValue(p fieldPath, dst *int) (present bool, err error) {
	var v int64
	if present, err = s.int64Value(p, &v); err != nil {
		return false, err
	}
	if v < 0 || v > MaxSeatIndex {
		return false, checkSeatIndex(p, v)
	}
	*dst = int(v)
	return present, nil
}

func checkSeatIndex(p fieldPath, v int64) error {
	if v < 0 {
		return errorf("%s: %d is negative; seat indexes start at 0", p, v)
	}
	if v > MaxSeatIndex {
		return errorf("%s: %d is over %d, the highest seat index accepted", p, v, MaxSeatIndex)
	}
	return nil
}

func (s *scanner) floatValue(p fieldPath, dst *float64) error {
	if s.null() {
		*dst = 0
		return nil
	}
	start := s.pos
	num, err := s.numberOrWrongType(p, "number")
	if err != nil {
		return err
	}
	v, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		s.pos = start
		return errorf("%s: number %s is out of range", p, num)
	}
	*dst = v
	return nil
}

func (s *scanner) numberOrWrongType(p fieldPath, want string) ([]byte, error) {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return nil, s.wrongType(p, want)
	}
	return s.number()
}

// stringsValue reads an array of strings; name is the array's full path.
func (s *scanner) stringsValue(name string, dst *[]string) error {
	switch s.ws() {
	case '[':
		var buf [8]string
		list := buf[:0]
		err := s.array(func(i int) error {
			var v string
			err := s.stringValue(elem(name, i), &v)
			list = append(list, v)
			return err
		})
		*dst = append([]string{}, list...)
		return err
	case 'n':
		*dst = nil
		return s.literal("null")
	}
	return s.wrongType(field(name), "array of strings")
}

// anyValue reads any value the way encoding/json decodes into an `any`:
// objects become map[string]any, arrays []any, numbers float64.
func (s *scanner) anyValue(p fieldPath) (any, error) {
	switch c := s.ws(); {
	case c == '{':
		m := map[string]any{}
		err := s.object(func(key []byte) error {
			k := s.keyText(key)
			v, err := s.anyValue(p)
			m[k] = v
			return err
		})
		return m, err
	case c == '[':
		a := []any{}
		err := s.array(func(int) error {
			v, err := s.anyValue(p)
			a = append(a, v)
			return err
		})
		return a, err
	case c == '"':
		v, err := s.text()
		return v, err
	case c == '-' || (c >= '0' && c <= '9'):
		var f float64
		err := s.floatValue(p, &f)
		return f, err
	case c == 't' || c == 'f':
		var b bool
		err := s.boolValue(p, &b)
		return b, err
	case c == 'n':
		return nil, s.literal("null")
	}
	return nil, s.syntaxError("want a value")
}

// wrongType describes the value at s.pos for an error about field p.
func (s *scanner) wrongType(p fieldPath, want string) error {
	return errorf("%s: want %s, got %s", p, want, s.describe())
}

// describe names the JSON value at s.pos, with a short excerpt for
// scalars: `string "two"`, `number 2.5`, `object`.
func (s *scanner) describe() string {
	const maxExcerpt = 40
	switch c := s.ws(); {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't', c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '"':
		b, err := s.str()
		if err != nil {
			return "malformed string"
		}
		if len(b) > maxExcerpt {
			return "string " + strconv.Quote(string(b[:maxExcerpt])) + "..."
		}
		return "string " + strconv.Quote(string(b))
	case c == '-' || (c >= '0' && c <= '9'):
		b, err := s.number()
		if err != nil || len(b) > maxExcerpt {
			return "number"
		}
		return "number " + string(b)
	}
	return "invalid JSON"
}
