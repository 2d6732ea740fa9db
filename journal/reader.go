package journal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Message is one decoded journal entry. A chunked event spans the stream
// sequences FirstSeq..Seq; otherwise FirstSeq == Seq. A consumer that has
// applied a Message checkpoints Seq and resumes at Seq+1.
type Message struct {
	Seq       uint64
	FirstSeq  uint64
	Events    []Event
	Published time.Time // when JetStream stored the (last) message: on a mirror, when the origin did
	// Delivered is when the reader took the (last) message from its consumer,
	// by this host's clock (with its monotonic reading).
	Delivered time.Time
	Writer    string // Zkdr-Writer header
	Epoch     uint64 // Zkdr-Epoch header
}

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	Stream string
	// StartSeq is the first sequence to read. The reader fails with
	// ErrRetentionGap if the stream no longer holds it. 0 reads from StartTime
	// or, without one, from the first message still held (no gap check).
	StartSeq  uint64
	StartTime time.Time
	// Prefetch is how many messages the consumer buffers ahead (default 256).
	Prefetch int
	Logger   hclog.Logger
}

// Validate fills defaults and reports the first setting that cannot be used.
func (c *ReaderConfig) Validate() error {
	if c.Stream == "" {
		return errors.New("journal: reader stream is required")
	}
	if c.Prefetch == 0 {
		c.Prefetch = 256
	}
	if c.Prefetch < 0 {
		return errors.New("journal: reader prefetch must not be negative")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return nil
}

// Reader reads a journal stream (origin or mirror) in order through an
// ordered consumer. It is used from one goroutine at a time.
type Reader struct {
	js  jetstream.JetStream
	cfg ReaderConfig
	log hclog.Logger

	stream jetstream.Stream
	it     jetstream.MessagesContext
	next   uint64 // sequence expected next; 0 until known
	seen   bool   // a message has been delivered
	part   *partial
	err    error // sticky: a gap or an undecodable message
	closed bool
}

// partial is a chunked event being reassembled.
type partial struct {
	first  uint64
	parts  int
	total  int
	writer string
	next   int // part expected next
	buf    []byte
}

// NewReader validates cfg; it contacts the server on the first Fetch.
func NewReader(js jetstream.JetStream, cfg ReaderConfig) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reader{js: js, cfg: cfg, log: cfg.Logger.Named("reader").With("stream", cfg.Stream)}, nil
}

// Bounds reports the first and last sequence the stream holds. For an empty
// stream last is 0 or first-1.
func (r *Reader) Bounds(ctx context.Context) (first, last uint64, err error) {
	if r.stream == nil {
		s, err := r.js.Stream(ctx, r.cfg.Stream)
		if err != nil {
			return 0, 0, fmt.Errorf("open stream %s: %w", r.cfg.Stream, err)
		}
		r.stream = s
	}
	info, err := r.stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read bounds of %s: %w", r.cfg.Stream, err)
	}
	return info.State.FirstSeq, info.State.LastSeq, nil
}

func (r *Reader) start(ctx context.Context) error {
	first, last, err := r.Bounds(ctx)
	if err != nil {
		return err
	}
	occ := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	switch {
	case r.cfg.StartSeq > 0:
		if r.cfg.StartSeq < first {
			return fmt.Errorf("%w: %s starts at sequence %d, reader needs %d (messages %d..%d dropped by retention)",
				ErrRetentionGap, r.cfg.Stream, first, r.cfg.StartSeq, r.cfg.StartSeq, first-1)
		}
		occ.DeliverPolicy, occ.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.cfg.StartSeq
		r.next = r.cfg.StartSeq
	case !r.cfg.StartTime.IsZero():
		t := r.cfg.StartTime
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := r.js.OrderedConsumer(ctx, r.cfg.Stream, occ)
	if err != nil {
		return fmt.Errorf("create consumer on %s: %w", r.cfg.Stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(r.cfg.Prefetch))
	if err != nil {
		return fmt.Errorf("read %s: %w", r.cfg.Stream, err)
	}
	r.it = it
	r.log.Debug("reader started", "journal-seq", r.cfg.StartSeq, "first", first, "last", last)
	return nil
}

// Fetch blocks until at least one message is available (or ctx is done) and
// returns, in order, up to max messages that are available at once. A message
// that cannot be decoded yields a *DecodeError with its sequence; a sequence
// the stream no longer holds yields an error wrapping ErrRetentionGap. Both are
// sticky: messages before them are returned first, the error on the next call.
func (r *Reader) Fetch(ctx context.Context, max int) ([]Message, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if r.err != nil {
		return nil, r.err
	}
	if max <= 0 {
		max = 1
	}
	if r.it == nil {
		if err := r.start(ctx); err != nil {
			if errors.Is(err, ErrRetentionGap) {
				r.err = err
			}
			return nil, err
		}
	}
	var out []Message
	for len(out) < max {
		var opt jetstream.NextOpt
		if len(out) == 0 {
			opt = jetstream.NextContext(ctx)
		} else {
			// What the consumer has already buffered arrives at once.
			opt = jetstream.NextMaxWait(time.Millisecond)
		}
		msg, err := r.it.Next(opt)
		if err != nil {
			if len(out) > 0 && (errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
				break
			}
			if len(out) > 0 {
				r.log.Debug("fetch stopped early", "error", err)
				break
			}
			return nil, err
		}
		m, err := r.take(msg)
		if err != nil {
			r.err = err
			if len(out) > 0 {
				return out, nil
			}
			return nil, err
		}
		if m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// take checks one delivered message's place in the stream and decodes it; it
// returns nil while a chunked event is incomplete.
func (r *Reader) take(msg jetstream.Msg) (*Message, error) {
	md, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.cfg.Stream, err)
	}
	seq := md.Sequence.Stream
	if r.next != 0 && seq != r.next {
		if seq < r.next {
			r.log.Debug("ignoring a message delivered again", "journal-seq", seq)
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %s delivered sequence %d after %d (messages %d..%d are gone)",
			ErrRetentionGap, r.cfg.Stream, seq, r.next-1, r.next, seq-1)
	}
	first := !r.seen
	r.seen = true
	r.next = seq + 1
	h := msg.Headers()
	writer := h.Get(HeaderWriter)
	epoch, _ := strconv.ParseUint(h.Get(HeaderEpoch), 10, 64)
	derr := func(err error) error { return &DecodeError{Stream: r.cfg.Stream, Seq: seq, Err: err} }

	f, err := decodeFrame(msg.Data())
	if err != nil {
		return nil, derr(err)
	}
	if r.part != nil && (f.typ == frameBatch || f.part == 0) {
		// A chunked event was never finished. Only a writer that died mid-event
		// leaves that behind, and then the next message is another writer's;
		// from the same writer it is a broken stream.
		if writer == r.part.writer {
			return nil, derr(corrupt("chunked event started at sequence %d ended after %d of %d bytes",
				r.part.first, len(r.part.buf), r.part.total))
		}
		r.log.Warn("dropping a chunked event its writer abandoned", "journal-seq", r.part.first,
			"abandoned-by", r.part.writer, "next-writer", writer)
		r.part = nil
	}
	m := &Message{Seq: seq, FirstSeq: seq, Published: md.Timestamp, Delivered: time.Now(), Writer: writer, Epoch: epoch}
	if f.typ == frameBatch {
		m.Events = f.events
		return m, nil
	}
	if f.part == 0 {
		r.part = &partial{first: seq, parts: f.parts, total: f.total, writer: writer, buf: make([]byte, 0, f.total)}
	} else if r.part == nil {
		if first {
			return nil, derr(corrupt("chunk %d/%d without its first part: the start sequence is inside a chunked event", f.part, f.parts))
		}
		return nil, derr(corrupt("chunk %d/%d without its first part", f.part, f.parts))
	}
	p := r.part
	if f.part != p.next || f.parts != p.parts || f.total != p.total || len(p.buf)+len(f.piece) > p.total || writer != p.writer {
		return nil, derr(corrupt("chunk %d/%d of %d bytes does not continue the event started at sequence %d", f.part, f.parts, f.total, p.first))
	}
	p.buf = append(p.buf, f.piece...)
	p.next++
	if f.part < f.parts-1 {
		return nil, nil
	}
	r.part = nil
	if len(p.buf) != p.total {
		return nil, derr(corrupt("chunked event from sequence %d has %d of %d bytes", p.first, len(p.buf), p.total))
	}
	ev, err := DecodeEvent(p.buf)
	if err != nil {
		return nil, derr(err)
	}
	m.FirstSeq, m.Events = p.first, []Event{ev}
	return m, nil
}

// Close stops the consumer.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.it != nil {
		r.it.Stop()
	}
	return nil
}
