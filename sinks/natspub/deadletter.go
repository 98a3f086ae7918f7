package natspub

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/promreg"
)

// Dead-letter message headers.
const (
	HeaderKind      = "Roomwarden-Kind" // "action" or "event"
	HeaderReason    = "Roomwarden-Reason"
	HeaderSubject   = "Roomwarden-Subject"    // events: where the event was published
	HeaderStreamSeq = "Roomwarden-Stream-Seq" // events: its stream sequence
	HeaderTruncated = "Roomwarden-Truncated"  // events: "true" when the body was cut
)

// MaxDeadLetterEventBytes is how much of a malformed event's payload a
// dead letter carries.
const MaxDeadLetterEventBytes = 64 << 10

const maxReasonBytes = 1024

var (
	_ engine.DeadLetterSink      = (*DeadLetter)(nil)
	_ engine.EventDeadLetterSink = (*DeadLetter)(nil)
)

// DeadLetter publishes dead letters to a JetStream subject and waits for
// the stream's acknowledgement, so a dead letter is stored before the
// event is acknowledged or terminated. Each message carries a
// Nats-Msg-Id derived from its content, so a retried publish within the
// stream's duplicate window is stored once.
type DeadLetter struct {
	js      jetstream.JetStream
	subject string
	log     *slog.Logger
	stored  *prometheus.CounterVec
	errors  *prometheus.CounterVec
}

// DeadLetterConfig configures DeadLetter. JetStream is required; zero
// values of the rest take the defaults.
type DeadLetterConfig struct {
	JetStream jetstream.JetStream
	// Subject is where dead letters are published (default
	// DefaultDLQSubject); see EnsureStream for the stream behind it.
	Subject string

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

// NewDeadLetter returns a DeadLetter publishing to cfg.Subject.
func NewDeadLetter(cfg DeadLetterConfig) (*DeadLetter, error) {
	if cfg.JetStream == nil {
		return nil, errors.New("natspub: dead letters: jetstream is required")
	}
	cfg.Subject = cmp.Or(cfg.Subject, DefaultDLQSubject)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &DeadLetter{
		js:      cfg.JetStream,
		subject: cfg.Subject,
		log:     cfg.Logger.With("component", "natspub.deadletter", "subject", cfg.Subject),
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_dead_letters_total",
			Help: "Dead letters stored, by kind (action, event).",
		}, []string{"kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_dead_letter_errors_total",
			Help: "Dead letters that could not be stored, by kind (action, event).",
		}, []string{"kind"}),
	}
	if err := promreg.Register(cfg.Registerer, d.stored, d.errors); err != nil {
		return nil, fmt.Errorf("natspub: dead letters: %w", err)
	}
	return d, nil
}

// DeadLetter stores an action whose retries are exhausted: the body is
// the outcome as JSON.
func (d *DeadLetter) DeadLetter(ctx context.Context, o engine.Outcome) error {
	body, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("dead-letter action: encode outcome: %w", err)
	}
	params, _ := json.Marshal(o.Params) // LockSeat always encodes
	msg := d.message("action", actionReason(o), body)
	msg.Header.Set(jetstream.MsgIDHeader, "action-"+digest(o.Rule, o.EventID, string(params)))
	return d.publish(ctx, "action", msg)
}

func actionReason(o engine.Outcome) string {
	switch {
	case o.ErrorCode != 0:
		return fmt.Sprintf("%s after %d attempts: error %d: %s", o.Outcome, o.Attempts, o.ErrorCode, o.ErrorInfo)
	case o.ErrorInfo != "":
		return fmt.Sprintf("%s after %d attempts: %s", o.Outcome, o.Attempts, o.ErrorInfo)
	}
	return fmt.Sprintf("%s after %d attempts", o.Outcome, o.Attempts)
}

// DeadLetterEvent stores a malformed event: the body is the original
// payload, cut to MaxDeadLetterEventBytes (header Roomwarden-Truncated).
func (d *DeadLetter) DeadLetterEvent(ctx context.Context, m engine.Malformed) error {
	body := m.Data
	truncated := len(body) > MaxDeadLetterEventBytes
	if truncated {
		body = body[:MaxDeadLetterEventBytes]
	}
	msg := d.message("event", m.Reason, body)
	msg.Header.Set(HeaderSubject, headerValue(m.Subject, maxReasonBytes))
	msg.Header.Set(HeaderStreamSeq, strconv.FormatUint(m.StreamSeq, 10))
	if truncated {
		msg.Header.Set(HeaderTruncated, "true")
	}
	msg.Header.Set(jetstream.MsgIDHeader, "event-"+eventDigest(m))
	return d.publish(ctx, "event", msg)
}

// eventDigest identifies a malformed event by where it was stored; without
// a stream sequence, by its content.
func eventDigest(m engine.Malformed) string {
	if m.StreamSeq == 0 {
		return digest(m.Subject, string(m.Data))
	}
	return digest(m.Subject, strconv.FormatUint(m.StreamSeq, 10))
}

func (d *DeadLetter) message(kind, reason string, body []byte) *nats.Msg {
	msg := nats.NewMsg(d.subject)
	msg.Data = body
	msg.Header.Set(HeaderKind, kind)
	msg.Header.Set(HeaderReason, headerValue(reason, maxReasonBytes))
	return msg
}

func (d *DeadLetter) publish(ctx context.Context, kind string, msg *nats.Msg) error {
	ack, err := d.js.PublishMsg(ctx, msg)
	if err != nil {
		d.errors.WithLabelValues(kind).Inc()
		return fmt.Errorf("dead-letter %s to %s: %w", kind, d.subject, err)
	}
	d.stored.WithLabelValues(kind).Inc()
	d.log.Debug("dead letter stored", "kind", kind, "stream", ack.Stream, "seq", ack.Sequence, "duplicate", ack.Duplicate)
	return nil
}

// digest is a short, stable hash of parts (NUL-separated).
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
