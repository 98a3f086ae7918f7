package roomengine

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/fakeclock"
)

const (
	vectorKey  = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	vectorApp  = 1400000000
	vectorUser = "xiaojun"
	vectorTime = 1700000000
	vectorExp  = 15552000
	vectorSig  = "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="
)

// decodedSig is what the independent verifier finds inside a UserSig.
type decodedSig struct {
	ver        string
	identifier string
	sdkappid   uint64
	time       int64
	expire     int64
	mac        string
	keys       []string
}

// inspectSig undoes a UserSig layer by layer without using the package's
// own decoder: alphabet, base64, zlib, JSON.
func inspectSig(t *testing.T, sig string) decodedSig {
	t.Helper()
	std := strings.Map(func(r rune) rune {
		switch r {
		case '*':
			return '+'
		case '-':
			return '/'
		case '_':
			return '='
		case '+', '/', '=':
			t.Fatalf("usersig %q contains %q, outside the UserSig alphabet", sig, r)
		}
		return r
	}, sig)
	packed, err := base64.StdEncoding.DecodeString(std)
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(packed))
	if err != nil {
		t.Fatalf("zlib: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("json %s: %v", raw, err)
	}
	var d decodedSig
	for k := range m {
		d.keys = append(d.keys, k)
	}
	field := func(name string, v any) {
		t.Helper()
		if err := json.Unmarshal(m[name], v); err != nil {
			t.Fatalf("field %s in %s: %v", name, raw, err)
		}
	}
	field("TLS.ver", &d.ver)
	field("TLS.identifier", &d.identifier)
	field("TLS.sdkappid", &d.sdkappid) // a JSON number, not a string
	field("TLS.time", &d.time)
	field("TLS.expire", &d.expire)
	field("TLS.sig", &d.mac)
	return d
}

// independentMAC is the published TLSSigAPIv2 MAC, written out anew.
func independentMAC(key string, d decodedSig) string {
	content := fmt.Sprintf("TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:%d\n",
		d.identifier, d.sdkappid, d.time, d.expire)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(content))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// checkSig verifies sig independently and returns its contents.
func checkSig(t *testing.T, sig, key string) decodedSig {
	t.Helper()
	d := inspectSig(t, sig)
	if d.ver != "2.0" {
		t.Errorf("TLS.ver = %q, want 2.0", d.ver)
	}
	if len(d.keys) != 6 {
		t.Errorf("keys = %v, want the six TLS.* fields", d.keys)
	}
	if want := independentMAC(key, d); d.mac != want {
		t.Errorf("TLS.sig = %q, want %q", d.mac, want)
	}
	return d
}

func TestGenUserSigVector(t *testing.T) {
	sig, err := GenUserSig([]byte(vectorKey), vectorApp, vectorUser, time.Unix(vectorTime, 0), vectorExp*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := checkSig(t, sig, vectorKey)
	if d.mac != vectorSig {
		t.Errorf("TLS.sig = %q, want the published vector %q", d.mac, vectorSig)
	}
	if d.identifier != vectorUser || d.sdkappid != vectorApp || d.time != vectorTime || d.expire != vectorExp {
		t.Errorf("fields = %+v, want %s %d %d %d", d, vectorUser, vectorApp, vectorTime, vectorExp)
	}
}

func TestGenUserSigRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		appID      uint64
		identifier string
		at         time.Time
		expire     time.Duration
	}{
		{"admin", "k1", 1400000001, "administrator", time.Unix(1750000000, 0), 24 * time.Hour},
		{"json specials", vectorKey, 20000000, `a"b\c<d>&`, time.Unix(1, 0), time.Minute},
		{"unicode", "秘密", 1, "管理员", time.Unix(1800000000, 999), 180 * 24 * time.Hour},
		{"fraction of second dropped", "k", 7, "x", time.Unix(100, 0), 90*time.Second + 500*time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := GenUserSig([]byte(tc.key), tc.appID, tc.identifier, tc.at, tc.expire)
			if err != nil {
				t.Fatal(err)
			}
			d := checkSig(t, sig, tc.key)
			if d.identifier != tc.identifier || d.sdkappid != tc.appID || d.time != tc.at.Unix() || d.expire != int64(tc.expire/time.Second) {
				t.Errorf("decoded %+v", d)
			}
		})
	}
}

func TestGenUserSigRejects(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		identifier string
		expire     time.Duration
		want       string
	}{
		{"empty key", "", "admin", time.Hour, "secret key is empty"},
		{"empty identifier", "k", "", time.Hour, "identifier is empty"},
		{"sub-second expire", "k", "admin", time.Millisecond, "under one second"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GenUserSig([]byte(tc.key), 1, tc.identifier, time.Unix(1, 0), tc.expire)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock = fakeclock.Clock

func newCache(clock *fakeClock) *sigCache {
	return &sigCache{key: []byte("k"), appID: 9, identifier: "admin", ttl: 24 * time.Hour, now: clock.Now}
}

func mustGet(t *testing.T, c *sigCache) string {
	t.Helper()
	s, err := c.get()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSigCacheRenewsAtHalfLife(t *testing.T) {
	clock := fakeclock.New(time.Unix(1750000000, 0))
	c := newCache(clock)
	first := mustGet(t, c)
	steps := []struct {
		advance time.Duration
		same    bool
	}{
		{time.Hour, true},
		{11*time.Hour - time.Second, true}, // 12h minus 1s after issue
		{time.Second, false},               // exactly half-life
		{11 * time.Hour, true},
	}
	prev := first
	for i, s := range steps {
		clock.Add(s.advance)
		got := mustGet(t, c)
		if (got == prev) != s.same {
			t.Fatalf("step %d: same sig = %v, want %v", i, got == prev, s.same)
		}
		if d := inspectSig(t, got); !s.same && d.time != clock.Now().Unix() {
			t.Errorf("step %d: renewed TLS.time = %d, want %d", i, d.time, clock.Now().Unix())
		}
		prev = got
	}
}

func TestSigCacheRenew(t *testing.T) {
	clock := fakeclock.New(time.Unix(1750000000, 0))
	c := newCache(clock)
	first := mustGet(t, c)
	second, err := c.renew(first)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("renew returned the rejected sig")
	}
	if d1, d2 := inspectSig(t, first), inspectSig(t, second); d2.time <= d1.time {
		t.Errorf("renewed TLS.time %d not after rejected %d", d2.time, d1.time)
	}
	again, err := c.renew(first) // a racing caller that also saw first rejected
	if err != nil || again != second {
		t.Errorf("second renew of the same rejected sig = %v, %v; want the one replacement", again != second, err)
	}
	if got := mustGet(t, c); got != second {
		t.Error("get after renew does not return the renewed sig")
	}
}

func TestSigCacheConcurrent(t *testing.T) {
	clock := fakeclock.New(time.Unix(1750000000, 0))
	c := newCache(clock)
	var wg sync.WaitGroup
	sigs := make([]string, 32)
	for i := range sigs {
		wg.Go(func() {
			s, err := c.get()
			if err != nil {
				t.Error(err)
			}
			sigs[i] = s
		})
	}
	wg.Wait()
	for i, s := range sigs {
		if s != sigs[0] {
			t.Fatalf("goroutine %d got a different sig: the cache issued more than once", i)
		}
	}
}

func BenchmarkGenUserSig(b *testing.B) {
	key := []byte(vectorKey)
	now := time.Unix(vectorTime, 0)
	for b.Loop() {
		if _, err := GenUserSig(key, vectorApp, "administrator", now, 24*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSigCacheGet(b *testing.B) {
	c := &sigCache{key: []byte("k"), appID: 9, identifier: "admin", ttl: 24 * time.Hour, now: time.Now}
	for b.Loop() {
		if _, err := c.get(); err != nil {
			b.Fatal(err)
		}
	}
}
