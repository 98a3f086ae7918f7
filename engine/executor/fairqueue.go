package executor

import (
	"context"
	"sync"
	"time"
)

// fairQueue holds the calls waiting for a worker: one FIFO per room,
// served round robin, so a burst of actions for one room (a callback
// listing thousands of members, say) delays another room's action by one
// turn, not by the whole burst. It holds at most size calls; put blocks
// while it is full.
type fairQueue struct {
	slots chan struct{} // one token per free place
	items chan struct{} // one token per queued call

	mu    sync.Mutex
	rooms map[string]*roomCalls
	ring  []string // rooms with calls, in serving order
}

// roomCalls is one room's FIFO.
type roomCalls struct {
	calls []*execCall
}

func newFairQueue(size int) *fairQueue {
	q := &fairQueue{
		slots: make(chan struct{}, size),
		items: make(chan struct{}, size),
		rooms: make(map[string]*roomCalls),
	}
	for range size {
		q.slots <- struct{}{}
	}
	return q
}

// tryPut queues c if there is room, without waiting.
func (q *fairQueue) tryPut(c *execCall) bool {
	select {
	case <-q.slots:
		q.push(c)
		return true
	default:
		return false
	}
}

// put queues c, waiting while the queue is full until ctx or stop ends.
func (q *fairQueue) put(ctx context.Context, stop <-chan struct{}, c *execCall) error {
	select {
	case <-q.slots:
		q.push(c)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return ErrClosed
	}
}

func (q *fairQueue) push(c *execCall) {
	c.queued = time.Now()
	room := c.key.params.RoomID
	q.mu.Lock()
	rc := q.rooms[room]
	if rc == nil {
		rc = &roomCalls{}
		q.rooms[room] = rc
		q.ring = append(q.ring, room)
	}
	rc.calls = append(rc.calls, c)
	q.mu.Unlock()
	q.items <- struct{}{}
}

// ready receives a token for each queued call; after receiving one, pop
// returns a call.
func (q *fairQueue) ready() <-chan struct{} { return q.items }

// pop takes the next call: the head of the next room in turn. Call it
// once per token received from ready.
func (q *fairQueue) pop() *execCall {
	q.mu.Lock()
	room := q.ring[0]
	q.ring = q.ring[1:]
	rc := q.rooms[room]
	c := rc.calls[0]
	rc.calls[0] = nil
	rc.calls = rc.calls[1:]
	if len(rc.calls) == 0 {
		delete(q.rooms, room)
	} else {
		q.ring = append(q.ring, room) // its next call waits for the others' turn
	}
	q.mu.Unlock()
	q.slots <- struct{}{}
	return c
}

// len returns how many calls are queued.
func (q *fairQueue) len() int { return len(q.items) }

// oldest returns how long the longest-waiting call has been queued.
func (q *fairQueue) oldest(now time.Time) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	var most time.Duration
	for _, rc := range q.rooms {
		most = max(most, now.Sub(rc.calls[0].queued))
	}
	return most
}

// drain takes every queued call.
func (q *fairQueue) drain() []*execCall {
	var out []*execCall
	for {
		select {
		case <-q.items:
			out = append(out, q.pop())
		default:
			return out
		}
	}
}
