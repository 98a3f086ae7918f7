package roomengine

import (
	"net/http/httptest"
	"testing"

	"github.com/roomwarden/roomwarden/engine"
)

// BenchmarkLockSeat is one full call against a loopback httptest server
// over a kept-alive connection.
func BenchmarkLockSeat(b *testing.B) {
	srv := httptest.NewServer(ok)
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, SDKAppID: 1400000000, Identifier: "administrator", SecretKey: []byte(testKey)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := engine.LockSeat{RoomID: "room-test", Index: 2, ForbidAudio: engine.True}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.LockSeat(b.Context(), p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderRequest is the client's own work per call: URL and body.
func BenchmarkRenderRequest(b *testing.B) {
	prefix := urlPrefix("https://adminapisgp.im.qcloud.com", 1400000000, "administrator")
	p := engine.LockSeat{RoomID: "room-test", Index: 2, ForbidAudio: engine.True}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		_ = buildURL(prefix, "eJw0jM0KgkAUhd-lbg3-UtOBNi1qUUSTleVOmqtcQhtmLlFE7x7YdHbnO4fvDYdN6T")
		buf = appendBody(buf[:0], p)
	}
}
