package replay

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/natstest"
)

// durableState is what a replay must leave as it was.
type durableState struct {
	delivered, ackFloor          jetstream.SequenceInfo
	pending, ackPending, redeliv uint64
	msgs, lastSeq                uint64
	consumers                    int
	streams                      []string
}

func readDurableState(t *testing.T, js jetstream.JetStream, cons jetstream.Consumer) durableState {
	t.Helper()
	ctx := context.Background()
	ci, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, testStream)
	if err != nil {
		t.Fatal(err)
	}
	si := st.CachedInfo()
	var streams []string
	for name := range js.StreamNames(ctx).Name() {
		streams = append(streams, name)
	}
	slices.Sort(streams)
	return durableState{delivered: ci.Delivered, ackFloor: ci.AckFloor, pending: ci.NumPending,
		ackPending: uint64(ci.NumAckPending), redeliv: uint64(ci.NumRedelivered),
		msgs: si.State.Msgs, lastSeq: si.State.LastSeq, consumers: si.State.Consumers, streams: streams}
}

func (s durableState) equal(o durableState) bool {
	seqEqual := func(a, b jetstream.SequenceInfo) bool {
		return a.Consumer == b.Consumer && a.Stream == b.Stream && (a.Last == nil) == (b.Last == nil) &&
			(a.Last == nil || a.Last.Equal(*b.Last))
	}
	return seqEqual(s.delivered, o.delivered) && seqEqual(s.ackFloor, o.ackFloor) && s.pending == o.pending &&
		s.ackPending == o.ackPending && s.redeliv == o.redeliv && s.msgs == o.msgs && s.lastSeq == o.lastSeq &&
		s.consumers == o.consumers && slices.Equal(s.streams, o.streams)
}

// TestReplayLeavesTheDurableAlone: the daemon's durable consumer keeps
// its acks and pending messages, the stream its messages and consumers,
// and nothing is published (no action, no dead letter, no state).
func TestReplayLeavesTheDurableAlone(t *testing.T) {
	s := natstest.RunServer(t)
	js := natstest.JetStream(t, natstest.Connect(t, s))
	ctx := context.Background()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{testSubject}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		publish(t, js, event{Type: "member.enter", Time: at(time.Duration(i) * time.Minute), RoomID: "r",
			User: &user{ID: "u", Flagged: true}})
	}
	publishRaw(t, js, "rooms.events.x", []byte("not json")) // malformed: the daemon would dead-letter it
	durable, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "roomwarden",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := durable.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for m := range batch.Messages() {
		if acked < 3 { // three acknowledged, two left pending
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
			acked++
		}
	}
	before := readDurableState(t, js, durable)

	published := make(chan *nats.Msg, 16)
	watch := natstest.Connect(t, s)
	for _, subject := range []string{"roomwarden.>", "rooms.>", "$KV.>"} {
		sub, err := watch.ChanSubscribe(subject, published)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}

	rep := replayAll(t, js, Config{Candidate: compile(t, cooldownRules)})
	if rep.Events != 10 || rep.Malformed != 1 || ruleReport(t, rep, "mute-flagged-join").Actions != 10 {
		t.Fatalf("replayed %d events (%d malformed), want 10 (1), each acting", rep.Events, rep.Malformed)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-published:
		t.Errorf("the replay published on %s", m.Subject)
	case <-time.After(100 * time.Millisecond):
	}
	if after := readDurableState(t, js, durable); !after.equal(before) {
		t.Errorf("after the replay:\n%+v\nwant as before:\n%+v", after, before)
	}
}
