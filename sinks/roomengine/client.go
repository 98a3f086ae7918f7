package roomengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"syscall"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// maxResponseBody bounds how much of a response the client reads; real
// answers are under 200 bytes.
const maxResponseBody = 64 << 10

// errInvalidParams marks actions refused before any call is made.
var errInvalidParams = errors.New("invalid lock_seat params")

// Client calls lock_seat on the Room Engine REST API. It is safe for
// concurrent use; one Client holds one pooled http.Client.
type Client struct {
	hc     *http.Client
	prefix string // the URL up to and including "usersig="
	sigs   *sigCache
	log    *slog.Logger
}

var _ engine.Sink = (*Client)(nil)

// New checks cfg and returns a Client. Errors say which setting to fix.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "roomengine")
	if plaintextRemote(cfg.Endpoint) {
		log.Warn("endpoint is plain http to a remote host: the usersig travels unencrypted", "endpoint", cfg.Endpoint)
	}
	return &Client{
		hc:     newHTTPClient(cfg.Timeout),
		prefix: urlPrefix(cfg.Endpoint, cfg.SDKAppID, cfg.Identifier),
		sigs: &sigCache{
			key:        bytes.Clone(cfg.SecretKey),
			appID:      cfg.SDKAppID,
			identifier: cfg.Identifier,
			ttl:        cfg.UserSigTTL.Truncate(time.Second),
			now:        cfg.Now,
		},
		log: log,
	}, nil
}

// newHTTPClient returns a keep-alive client sized for ~200 calls/s that
// does not follow redirects (a redirect would carry the usersig elsewhere).
func newHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// LockSeat makes one lock_seat call. When the API answers 70001 (UserSig
// expired) it regenerates the UserSig and calls once more. Failures are
// *engine.CallError; the executor retries by their Class.
func (c *Client) LockSeat(ctx context.Context, p engine.LockSeat) (engine.Receipt, error) {
	if err := checkParams(p); err != nil {
		return engine.Receipt{}, &engine.CallError{Class: engine.Permanent, Err: err}
	}
	sig, err := c.sigs.get()
	if err != nil {
		return engine.Receipt{}, &engine.CallError{Class: engine.Permanent, Err: err}
	}
	body := appendBody(make([]byte, 0, 128), p)
	rc, err := c.call(ctx, sig, body)
	if codeOf(err) != CodeUserSigExpired {
		return rc, err
	}
	if sig, err = c.sigs.renew(sig); err != nil {
		return engine.Receipt{}, &engine.CallError{Class: engine.Permanent, Err: err}
	}
	c.log.Info("usersig expired; regenerated it, calling once more", "room_id", p.RoomID, "index", p.Index)
	return c.call(ctx, sig, body)
}

func checkParams(p engine.LockSeat) error {
	switch {
	case p.RoomID == "":
		return fmt.Errorf("%w: room_id is empty", errInvalidParams)
	case p.Index < 0:
		return fmt.Errorf("%w: index %d is negative", errInvalidParams, p.Index)
	}
	return nil
}

// call makes exactly one HTTP request.
func (c *Client) call(ctx context.Context, sig string, body []byte) (engine.Receipt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, buildURL(c.prefix, sig), bytes.NewReader(body))
	if err != nil {
		return engine.Receipt{}, &engine.CallError{Class: engine.Permanent, Err: redactErr(err)}
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		ce := &engine.CallError{Class: transportClass(err), Err: redactErr(err)}
		c.logCall(ctx, start, 0, "", ce)
		return engine.Receipt{}, ce
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	rc, err := decodeResponse(resp.StatusCode, raw, readErr, sig)
	c.logCall(ctx, start, resp.StatusCode, requestIDOf(rc, err), err)
	return rc, err
}

func (c *Client) logCall(ctx context.Context, start time.Time, status int, requestID string, err error) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "lock_seat call",
		slog.Int("status", status),
		slog.String("request_id", requestID),
		slog.Int("error_code", codeOf(err)),
		slog.Duration("latency", time.Since(start)),
		slog.Any("error", err))
}

// transportClass classes a failed HTTP exchange: Local when this
// machine ran out of a resource before anything was sent (descriptors,
// buffers), else Retryable.
func transportClass(err error) engine.ErrorClass {
	for _, local := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, local) {
			return engine.Local
		}
	}
	return engine.Retryable
}

// requestIDOf returns the RequestId of an answer, successful or not.
func requestIDOf(rc engine.Receipt, err error) string {
	var ce *engine.CallError
	if errors.As(err, &ce) {
		return ce.RequestID
	}
	return rc.RequestID
}

// codeOf returns the API ErrorCode carried by err, or 0.
func codeOf(err error) int {
	var ce *engine.CallError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
