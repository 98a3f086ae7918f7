package replay

import "time"

// defaultProgressEvery is how often Config.Progress is called by default.
const defaultProgressEvery = 200 * time.Millisecond

// progress paces the calls to Config.Progress. The clock is read once
// every 256 messages, so pacing costs next to nothing per message.
type progress struct {
	fn       func(Progress)
	every    time.Duration
	lastSeq  uint64
	firstSeq uint64
	seq      uint64
	messages uint64
	start    time.Time
	next     time.Time
}

// message notes a message read at stream sequence seq.
func (p *progress) message(seq uint64) {
	if p.fn == nil {
		return
	}
	if p.messages++; p.messages == 1 {
		p.firstSeq, p.start = seq, time.Now()
		p.next = p.start.Add(p.interval())
	}
	p.seq = seq
	if p.messages%256 != 0 {
		return
	}
	if now := time.Now(); now.After(p.next) {
		p.next = now.Add(p.interval())
		p.fn(p.state(now))
	}
}

// finish reports the end; complete: the whole range was read.
func (p *progress) finish(complete bool) {
	if p.fn == nil {
		return
	}
	s := p.state(time.Now())
	if complete {
		s.Done = s.Total
	}
	p.fn(s)
}

func (p *progress) state(now time.Time) Progress {
	s := Progress{Messages: p.messages}
	if p.messages == 0 {
		return s
	}
	s.Elapsed = now.Sub(p.start)
	if p.lastSeq >= p.firstSeq {
		s.Total = p.lastSeq - p.firstSeq + 1
	}
	s.Done = min(p.seq-p.firstSeq+1, s.Total)
	return s
}

func (p *progress) interval() time.Duration {
	if p.every > 0 {
		return p.every
	}
	return defaultProgressEvery
}
