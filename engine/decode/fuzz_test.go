package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
)

// FuzzDecodeEvents feeds arbitrary bodies to the decoder. It may return
// errors, but must not panic or hang, must only accept valid JSON, and
// must agree with encoding/json on the strings it decodes.
func FuzzDecodeEvents(f *testing.F) {
	for _, pattern := range []string{"testdata/events/*.json", "../../examples/events/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			f.Add(readFile(f, file))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := Events(data, nil)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %v (%T) is not a *Error with a reason", err, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if len(evs) == 0 {
			t.Fatal("no error and no events")
		}
		for _, ev := range evs {
			if ev.Type == "" {
				t.Fatalf("event without type from %q", data)
			}
		}
		if !bytes.Contains(data, []byte("CallbackCommand")) {
			checkAgainstStdlib(t, data, evs[0].Type, evs[0].RoomID)
		}
	})
}

// checkAgainstStdlib compares string fields with what encoding/json makes
// of the same body (both take the last of duplicate keys). Numbers are
// kept as json.Number: a number beyond float64 in a field the decoder
// skips (`{"x":1e700}`) is valid JSON, not an error.
func checkAgainstStdlib(t *testing.T, data []byte, typ, room string) {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoder accepted what encoding/json rejects: %v", err)
	}
	if m["type"] != typ {
		t.Fatalf("type: decoder %q, encoding/json %q", typ, m["type"])
	}
	if r, ok := m["room_id"].(string); ok && r != room {
		t.Fatalf("room_id: decoder %q, encoding/json %q", room, r)
	}
}
