package sim

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

// reseal encodes a UserSig document as a signer would, so tests can
// forge sigs.
func reseal(t *testing.T, doc map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	return strings.NewReplacer("+", "*", "/", "-", "=", "_").Replace(base64.StdEncoding.EncodeToString(buf.Bytes()))
}

// TestVerifyUserSig checks the verifier against sigs from the client's
// signer and against forgeries.
func TestVerifyUserSig(t *testing.T) {
	key := []byte("secret")
	issued := time.Unix(1750000000, 0)
	good, err := roomengine.GenUserSig(key, 42, "admin", issued, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openUserSig(good)
	if err != nil {
		t.Fatal(err)
	}
	forged := reseal(t, map[string]any{
		"TLS.ver": "2.0", "TLS.identifier": "root", "TLS.sdkappid": 42,
		"TLS.time": d.Time, "TLS.expire": d.Expire, "TLS.sig": d.Sig,
	})
	oldVersion := reseal(t, map[string]any{
		"TLS.ver": "1.0", "TLS.identifier": "admin", "TLS.sdkappid": 42,
		"TLS.time": d.Time, "TLS.expire": d.Expire, "TLS.sig": d.Sig,
	})
	tests := []struct {
		name    string
		sig     string
		key     []byte
		now     time.Time
		wantErr error
		wantID  string
	}{
		{"valid", good, key, issued.Add(30 * time.Minute), nil, "admin"},
		{"valid at the last second", good, key, issued.Add(time.Hour), nil, "admin"},
		{"expired", good, key, issued.Add(time.Hour + time.Second), ErrUserSigExpired, "admin"},
		{"wrong key", good, []byte("other"), issued, ErrUserSigMismatch, ""},
		{"identifier swapped", forged, key, issued, ErrUserSigMismatch, ""},
		{"old version", oldVersion, key, issued, ErrUserSigMalformed, ""},
		{"not base64", "%%%", key, issued, ErrUserSigMalformed, ""},
		{"not zlib", base64.StdEncoding.EncodeToString([]byte("hello")), key, issued, ErrUserSigMalformed, ""},
		{"empty", "", key, issued, ErrUserSigMalformed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, _, err := VerifyUserSig(tc.sig, tc.key, tc.now)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if id != tc.wantID {
				t.Errorf("identifier = %q, want %q", id, tc.wantID)
			}
		})
	}
}
