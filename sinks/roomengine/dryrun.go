package roomengine

import (
	"context"

	"github.com/roomwarden/roomwarden/engine"
)

// DryRun renders the request a Client would send and sends nothing. It
// never generates a UserSig, so any secret key New accepts will do.
type DryRun struct{ prefix string }

var _ engine.Sink = (*DryRun)(nil)

// NewDryRun returns the dry-run sink for c's endpoint, app and identifier.
func NewDryRun(c *Client) *DryRun { return &DryRun{prefix: c.prefix} }

// LockSeat returns, in Receipt.Request, the exact request as one line:
// "POST {url with usersig=REDACTED} {body}". It never fails.
func (d *DryRun) LockSeat(_ context.Context, p engine.LockSeat) (engine.Receipt, error) {
	body := appendBody(make([]byte, 0, 128), p)
	return engine.Receipt{Request: "POST " + buildURL(d.prefix, Redacted) + " " + string(body)}, nil
}
