package roomengine

import (
	"sync"
	"sync/atomic"
	"time"
)

// sigCache hands out the administrator UserSig, renewing it at half its
// lifetime so a cached sig is never close to expiry. It is safe for
// concurrent use; the fast path is one atomic load and a clock read.
type sigCache struct {
	key        []byte
	appID      uint64
	identifier string
	ttl        time.Duration
	now        func() time.Time

	mu  sync.Mutex // serialises issuing
	cur atomic.Pointer[sigEntry]
}

type sigEntry struct {
	sig     string
	issued  time.Time // whole seconds, as written in TLS.time
	renewAt time.Time
}

// get returns a UserSig that is at most half-way through its lifetime.
func (c *sigCache) get() (string, error) {
	if e := c.cur.Load(); e != nil && c.now().Before(e.renewAt) {
		return e.sig, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if e := c.cur.Load(); e != nil && now.Before(e.renewAt) {
		return e.sig, nil
	}
	return c.issue(now)
}

// renew replaces rejected, a sig the API called expired, with a new one
// issued strictly later. Callers racing on the same rejected sig get the
// one replacement.
func (c *sigCache) renew(rejected string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cur.Load()
	if e != nil && e.sig != rejected {
		return e.sig, nil
	}
	now := c.now().Truncate(time.Second)
	if e != nil && !now.After(e.issued) {
		now = e.issued.Add(time.Second)
	}
	return c.issue(now)
}

// issue generates and stores a sig issued at now. Callers hold mu.
func (c *sigCache) issue(now time.Time) (string, error) {
	sig, err := GenUserSig(c.key, c.appID, c.identifier, now, c.ttl)
	if err != nil {
		return "", err
	}
	issued := now.Truncate(time.Second)
	c.cur.Store(&sigEntry{sig: sig, issued: issued, renewAt: issued.Add(c.ttl / 2)})
	return sig, nil
}
