package decode

import (
	"testing"

	"github.com/roomwarden/roomwarden/rules"
)

// canonicalBench is a typical ~250-byte canonical event.
const canonicalBench = `{"id":"evt-0001","type":"member.enter","time":"2026-11-25T21:00:00Z",` +
	`"room_id":"room-test","user":{"id":"u1","flagged":true,"labels":["spam","new"],"score":0.93},` +
	`"seat":{"index":2,"user_id":"u1"},"producer":"gateway-7","trace":"4bf92f3577b34da6a3ce929d0e0e4736"}`

func benchmarkDecode(b *testing.B, data []byte) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	dst := make([]rules.Event, 0, 4)
	for b.Loop() {
		var err error
		if dst, err = Events(data, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCanonical(b *testing.B) {
	benchmarkDecode(b, []byte(canonicalBench))
}

func BenchmarkDecodeCanonicalAttrs(b *testing.B) {
	benchmarkDecode(b, readFile(b, "testdata/events/canonical-full.json"))
}

func BenchmarkDecodeCallback(b *testing.B) {
	benchmarkDecode(b, readFile(b, "../../examples/events/callback-member-enter.json"))
}
