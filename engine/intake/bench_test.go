package intake

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/natstest"

	"github.com/roomwarden/roomwarden/engine"
)

// BenchmarkIntakeThroughput measures how fast the intake drains a stream
// of 256-byte events into a handler that acks at once: the intake's own
// overhead on top of JetStream. Compare with `nats bench js consume`.
func BenchmarkIntakeThroughput(b *testing.B) {
	for _, double := range []bool{false, true} {
		name := "ack"
		if double {
			name = "double_ack"
		}
		b.Run(name, func(b *testing.B) { benchIntake(b, double) })
	}
	b.Run("baseline_raw_consume", benchRawConsume)
}

// benchRawConsume is the floor: the client library's Consume acking in
// its callback, with no pool, no metrics and no keep-alive.
func benchRawConsume(b *testing.B) {
	s := natstest.RunServer(b)
	js := natstest.JetStream(b, natstest.Connect(b, s))
	pub := natstest.JetStream(b, natstest.Connect(b, s))
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"rooms.events.>"}})
	if err != nil {
		b.Fatal(err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 20000})
	if err != nil {
		b.Fatal(err)
	}
	prefill(b, pub, b.N)
	b.ResetTimer()
	start := time.Now()
	var n atomic.Int64
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if n.Add(1) == int64(b.N) {
			close(done)
		}
	}, jetstream.PullMaxMessages(500))
	if err != nil {
		b.Fatal(err)
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	cc.Stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

func benchIntake(b *testing.B, doubleAck bool) {
	s := natstest.RunServer(b)
	js := natstest.JetStream(b, natstest.Connect(b, s))
	pub := natstest.JetStream(b, natstest.Connect(b, s))
	cfg := Config{
		Stream: "ROOM_EVENTS", Subjects: []string{"rooms.events.>"}, Durable: "roomwarden",
		DoubleAck: doubleAck,
	}
	var handled atomic.Int64
	done := make(chan struct{})
	h := handlerFunc(func(context.Context, engine.Delivery) engine.Result {
		if handled.Add(1) == int64(b.N) {
			close(done)
		}
		return engine.Result{Verdict: engine.Ack}
	})
	in := newIntake(b, js, cfg, h, nil)
	if err := in.Setup(b.Context()); err != nil {
		b.Fatal(err)
	}
	prefill(b, pub, b.N)

	b.ResetTimer()
	start := time.Now()
	ran := make(chan error, 1)
	go func() { ran <- in.Run() }()
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if err := in.Stop(b.Context()); err != nil {
		b.Fatal(err)
	}
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
}

func prefill(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	payload := make([]byte, 256)
	for i := range payload {
		payload[i] = 'x'
	}
	for i := range n {
		if _, err := js.PublishAsync("rooms.events.member.enter", payload); err != nil {
			b.Fatal(err)
		}
		if i%5000 == 4999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
}
