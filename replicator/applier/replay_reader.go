package applier

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/zkdr/zkdr/journal"
)

// replayCut is what every reader a replay opens shares: where the replay
// starts and stops, and what it has seen. The applier may open several
// readers (after a lost session, to read bounds); each one applies the same
// cut, which depends only on the messages, so they agree.
type replayCut struct {
	point journal.Point
	begin uint64 // the snapshot's begin: nothing earlier is read
	after uint64 // the snapshot's end: the point cuts only messages after it
	last  uint64 // the stream's last sequence when the replay started

	mu       sync.Mutex
	endSeq   uint64 // the last sequence the replay applies; 0 until the cut is found
	lastZxid int64  // largest zxid or mzxid of the events delivered up to endSeq
	lastTime time.Time
	seen     uint64 // last sequence delivered so far
	gap      error  // the stream dropped a message the replay needed
}

// end returns the cut's last sequence once it is known.
func (c *replayCut) end() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endSeq, c.endSeq != 0
}

func (c *replayCut) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gap
}

// deliver records a message handed to the applier.
func (c *replayCut) deliver(m journal.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Seq <= c.seen {
		return // read again by a reopened reader
	}
	c.seen = m.Seq
	for i := range m.Events {
		ev := &m.Events[i]
		c.lastZxid = max(c.lastZxid, ev.Zxid, ev.Stat.Mzxid)
	}
	c.lastTime = m.Published
}

func (c *replayCut) reach(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endSeq == 0 {
		c.endSeq = seq
	}
}

// cutReader hands the applier the journal from the snapshot's begin to the
// point, then nothing: Fetch blocks until its context ends, as a journal with
// nothing new does.
type cutReader struct {
	r    *journal.Reader
	cut  *replayCut
	done bool
}

var (
	_ JournalReader = (*cutReader)(nil)
	_ boundedReader = (*cutReader)(nil)
)

func (c *cutReader) Fetch(ctx context.Context, max int) ([]journal.Message, error) {
	for {
		if c.done {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		msgs, err := c.r.Fetch(ctx, max)
		if errors.Is(err, journal.ErrRetentionGap) {
			c.cut.mu.Lock()
			if c.cut.gap == nil {
				c.cut.gap = err
			}
			c.cut.mu.Unlock()
		}
		if err != nil {
			return nil, err
		}
		out := msgs[:0]
		for _, m := range msgs {
			keep, past := len(m.Events), false
			end, found := c.cut.end()
			switch {
			case found && m.Seq > end, m.Seq > c.cut.last:
				keep, past = 0, true
			case m.Seq > c.cut.after:
				keep, past = c.cut.point.Cut(m)
			}
			if keep > 0 {
				m.Events = m.Events[:keep]
				out = append(out, m)
				c.cut.deliver(m)
			}
			switch {
			case past && keep > 0:
				c.cut.reach(m.Seq)
			case past:
				c.cut.reach(m.FirstSeq - 1)
			case m.Seq == c.cut.last:
				c.cut.reach(m.Seq)
				past = true
			}
			if past {
				c.done = true
				break
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

func (c *cutReader) Bounds(ctx context.Context) (first, last uint64, err error) {
	return c.r.Bounds(ctx)
}

func (c *cutReader) Close() error { return c.r.Close() }
