package rules

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"gopkg.in/yaml.v3"
)

// maxHashNodes bounds the nodes nodeHash visits, aliases expanded: a
// rule that expands past it cannot have loaded (see maxAliases).
const maxHashNodes = 1 << 20

// nodeHash hashes what a YAML node means: each node's kind, tag and
// value, and its children, with aliases expanded. Comments, quoting,
// layout and the node's position do not count, so that the hash of a
// rule changes with its definition and with nothing else.
func nodeHash(n *yaml.Node) string {
	e := nodeEncoder{buf: make([]byte, 0, 512)}
	e.node(n)
	sum := sha256.Sum256(e.buf)
	return hex.EncodeToString(sum[:])
}

// nodeEncoder encodes a node tree into buf, unambiguously.
type nodeEncoder struct {
	buf   []byte
	nodes int
}

func (e *nodeEncoder) node(n *yaml.Node) {
	n = resolve(n)
	if e.nodes++; n == nil || e.nodes > maxHashNodes {
		e.buf = append(e.buf, 0)
		return
	}
	e.buf = append(e.buf, byte(n.Kind))
	e.str(n.Tag)
	e.str(n.Value)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(n.Content)))
	for _, c := range n.Content {
		e.node(c)
	}
}

func (e *nodeEncoder) str(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}
