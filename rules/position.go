package rules

import (
	"bytes"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// exprLoc places an expression inside its file, so that an error found
// at some offset of the expression can name the file's line and column.
type exprLoc struct {
	path  string
	data  []byte // the whole file, shared by all its expressions
	line  int    // the YAML scalar's 1-based position
	col   int
	style yaml.Style
}

func newExprLoc(path string, data []byte, n *yaml.Node) exprLoc {
	return exprLoc{path: path, data: data, line: n.Line, col: n.Column, style: n.Style}
}

// position returns the file position of the rune at runeOffset in the
// expression src. It walks the raw scalar and the decoded value side by
// side, skipping raw bytes that decoding removed (quotes, escapes,
// indentation, folded line breaks). It falls back to the scalar's own
// position when the two cannot be matched.
func (l exprLoc) position(src string, runeOffset int) (line, col int) {
	start := l.scalarStart()
	if start < 0 {
		return l.line, l.col
	}
	target := byteOffset(src, runeOffset)
	i, j := start, 0
	for j < target && i < len(l.data) {
		if l.data[i] == src[j] {
			j++
		}
		i++
	}
	for target < len(src) && i < len(l.data) && l.data[i] != src[target] {
		i++
	}
	if j < target || i >= len(l.data) && target < len(src) {
		return l.line, l.col
	}
	return lineCol(l.data, i)
}

// scalarStart returns the byte offset of the scalar's first content
// byte: after an opening quote, or on the line after a block header.
func (l exprLoc) scalarStart() int {
	off := lineStart(l.data, l.line)
	if off < 0 {
		return -1
	}
	for c := 1; c < l.col && off < len(l.data); c++ {
		_, size := utf8.DecodeRune(l.data[off:])
		off += size
	}
	switch l.style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		return off + 1
	case yaml.LiteralStyle, yaml.FoldedStyle:
		nl := bytes.IndexByte(l.data[off:], '\n')
		if nl < 0 {
			return -1
		}
		return off + nl + 1
	}
	return off
}

// lineStart returns the byte offset where 1-based line starts.
func lineStart(data []byte, line int) int {
	off := 0
	for l := 1; l < line; l++ {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			return -1
		}
		off += nl + 1
	}
	return off
}

// lineCol returns the 1-based line and rune column of byte offset off.
func lineCol(data []byte, off int) (line, col int) {
	off = min(off, len(data))
	line = bytes.Count(data[:off], []byte{'\n'}) + 1
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, utf8.RuneCount(data[start:off]) + 1
}

// byteOffset converts a rune offset into src to a byte offset.
func byteOffset(src string, runeOffset int) int {
	n := 0
	for i := range src {
		if n == runeOffset {
			return i
		}
		n++
	}
	return len(src)
}
