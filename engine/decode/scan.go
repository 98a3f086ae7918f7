package decode

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small validating JSON reader over one event body. It
// decodes the canonical event without reflection or intermediate maps,
// limits nesting to maxDepth, and reports errors as *Error with the
// byte offset. Input must already be valid UTF-8.
type scanner struct {
	data  []byte
	src   string // string(data) when set: strings are cut from it
	pos   int
	depth int
	// keyStart and keyEnd bound the raw text of the object key last read,
	// for keyText.
	keyStart, keyEnd int
	// lone is set when a string held a lone surrogate escape, decoded as
	// U+FFFD; readers of identifiers clear it first and refuse the id.
	lone bool
}

// shareLimit is the largest body whose decoded strings share one copy of
// the body (one allocation instead of one per string). Larger bodies copy
// each string, so a long-lived string (a cooldown key) never pins a large
// body in memory.
const shareLimit = 4 << 10

func (s *scanner) syntaxError(what string) error {
	if s.pos >= len(s.data) {
		return errorf("invalid JSON: unexpected end of input, %s", what)
	}
	return errorf("invalid JSON at byte %d: %s, got %q", s.pos, what, s.data[s.pos])
}

// ws skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) ws() byte {
	data, i := s.data, s.pos
	for ; i < len(data); i++ {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			s.pos = i
			return c
		}
	}
	s.pos = i
	return 0
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return errorf("json nesting deeper than %d", maxDepth)
	}
	return nil
}

// object reads the object at s.pos, calling field with each key; field
// must consume the value.
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++ // '{'
	if s.ws() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.ws() != '"' {
			return s.syntaxError("want object key")
		}
		s.keyStart = s.pos + 1
		key, err := s.str()
		if err != nil {
			return err
		}
		s.keyEnd = s.pos - 1
		if s.ws() != ':' {
			return s.syntaxError("want ':' after object key")
		}
		s.pos++
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		switch s.ws() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntaxError("want ',' or '}' in object")
		}
	}
}

// array reads the array at s.pos, calling elem for each element; elem
// must consume the value.
func (s *scanner) array(elem func(i int) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++ // '['
	if s.ws() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for i := 0; ; i++ {
		s.ws()
		if err := elem(i); err != nil {
			return err
		}
		switch s.ws() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntaxError("want ',' or ']' in array")
		}
	}
}

// skip consumes and validates one value of any type.
func (s *scanner) skip() error {
	switch c := s.ws(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(func(int) error { return s.skip() })
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.syntaxError("want a value")
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.syntaxError("want " + lit)
	}
	s.pos += len(lit)
	return nil
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	if s.ws() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

// number reads a JSON number and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.pos
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return nil, s.syntaxError("want digit")
	}
	if s.peek() == '.' {
		s.pos++
		if !s.digits() {
			return nil, s.syntaxError("want digit after '.'")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !s.digits() {
			return nil, s.syntaxError("want digit in exponent")
		}
	}
	return s.data[start:s.pos], nil
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

// text reads the string at s.pos. Without escapes, it is cut from s.src
// when that is set.
func (s *scanner) text() (string, error) {
	start := s.pos + 1
	b, err := s.str()
	if err != nil {
		return "", err
	}
	// Every escape is longer than what it stands for, so equal lengths
	// mean b is the raw input.
	if end := s.pos - 1; s.src != "" && end-start == len(b) {
		return s.src[start:end], nil
	}
	return string(b), nil
}

// idText is text for an identifier. plain reports that the string was
// printable ASCII without escapes, found in the same pass that looks for
// its end; otherwise it is read by text, with s.lone set as text leaves
// it.
func (s *scanner) idText() (v string, plain bool, err error) {
	data, start := s.data, s.pos+1
	for i := start; i < len(data); i++ {
		c := data[i]
		if c == '"' {
			s.pos = i + 1
			if s.src != "" {
				return s.src[start:i], true, nil
			}
			return string(data[start:i]), true, nil
		}
		if c-' ' > '~'-' ' || c == '\\' {
			break
		}
	}
	s.lone = false
	v, err = s.text()
	return v, false, err
}

// keyText returns the object key that object just passed to its field
// callback as a string: a substring of the shared body when it had no
// escapes, else a copy. Call it before reading the key's value.
func (s *scanner) keyText(key []byte) string {
	if s.src != "" && s.keyEnd-s.keyStart == len(key) {
		return s.src[s.keyStart:s.keyEnd]
	}
	return string(key)
}

// str reads a string at s.pos. Without escapes it returns a sub-slice of
// the input (do not retain it); with escapes, a new unescaped slice.
func (s *scanner) str() ([]byte, error) {
	data, start := s.data, s.pos+1
	for i := start; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return data[start:i], nil
		case c == '\\':
			s.pos = i
			return s.unescape(start)
		case c < 0x20:
			s.pos = i
			return nil, s.syntaxError("control character in string")
		}
	}
	s.pos = len(data)
	return nil, s.syntaxError("unterminated string")
}

// unescape finishes a string containing escapes; start is just past the
// opening quote and s.pos at the first backslash.
func (s *scanner) unescape(start int) ([]byte, error) {
	out := append([]byte(nil), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return out, nil
		case c < 0x20:
			return nil, s.syntaxError("control character in string")
		case c != '\\':
			out = append(out, c)
			s.pos++
			continue
		}
		var err error
		if out, err = s.escape(out); err != nil {
			return nil, err
		}
	}
	return nil, s.syntaxError("unterminated string")
}

// escape decodes the escape sequence at s.pos (a backslash) onto out.
func (s *scanner) escape(out []byte) ([]byte, error) {
	s.pos++
	c := s.peek()
	if r := simpleEscape(c); r != 0 {
		s.pos++
		return append(out, r), nil
	}
	if c != 'u' {
		return nil, s.syntaxError("invalid escape in string")
	}
	r, err := s.hex4()
	if err != nil {
		return nil, err
	}
	if utf16.IsSurrogate(r) {
		if r = s.lowSurrogate(r); r == utf8.RuneError {
			s.lone = true
		}
	}
	return utf8.AppendRune(out, r), nil
}

// simpleEscape returns the byte a one-letter escape stands for, or 0.
func simpleEscape(c byte) byte {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// hex4 reads the four hex digits after `\u` (s.pos at the 'u').
func (s *scanner) hex4() (rune, error) {
	if len(s.data)-s.pos < 5 {
		return 0, s.syntaxError("short \\u escape")
	}
	v, err := strconv.ParseUint(string(s.data[s.pos+1:s.pos+5]), 16, 16)
	if err != nil {
		return 0, s.syntaxError("invalid \\u escape")
	}
	s.pos += 5
	return rune(v), nil
}

// lowSurrogate combines a high surrogate with a following `\uXXXX` low
// surrogate; a lone surrogate becomes U+FFFD, as in encoding/json.
func (s *scanner) lowSurrogate(hi rune) rune {
	if len(s.data)-s.pos < 6 || s.data[s.pos] != '\\' || s.data[s.pos+1] != 'u' {
		return utf8.RuneError
	}
	save := s.pos
	s.pos++
	lo, err := s.hex4()
	if r := utf16.DecodeRune(hi, lo); err == nil && r != utf8.RuneError {
		return r
	}
	s.pos = save
	return utf8.RuneError
}
