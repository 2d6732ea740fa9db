package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/internal/ratelog"
)

// Message headers zkdr sets on every journal message, besides JetStream's own
// Nats-Msg-Id, Nats-Expected-Stream and Nats-Expected-Last-Sequence.
const (
	HeaderVersion = "Zkdr-Version" // schema version of the payload
	HeaderSite    = "Zkdr-Site"    // site whose source wrote the message
	HeaderEpoch   = "Zkdr-Epoch"   // epoch of the writer
	HeaderWriter  = "Zkdr-Writer"  // writer id of the appender instance
	HeaderEvents  = "Zkdr-Events"  // number of events in the message (1 for a chunk)
	HeaderChunk   = "Zkdr-Chunk"   // "part/parts" on the messages of a chunked event
)

// Headers on a snapshot marker message (see SnapshotSubjectName): a
// snapshot-begin or snapshot-end travels alone in its message, on the stream's
// snapshot subject, so snapshots are listed without reading the journal.
const (
	HeaderSnapshot = "Zkdr-Snapshot" // the snapshot id
	HeaderKind     = "Zkdr-Kind"     // "snapshot-begin" or "snapshot-end"
	// HeaderZxid is the largest zxid (event zxid, mzxid or pzxid) of any event
	// this writer appended before the marker: the snapshot's state holds no
	// change after it.
	HeaderZxid = "Zkdr-Zxid"
	// HeaderSnapshotNodes and HeaderSnapshotEvents, on a snapshot-end whose
	// begin the same writer appended, count the snapshot-node events and all
	// events between the two markers.
	HeaderSnapshotNodes  = "Zkdr-Snapshot-Nodes"
	HeaderSnapshotEvents = "Zkdr-Snapshot-Events"
)

// headerBudget is what the appender reserves for headers when it sizes a
// message against the server's max payload, which counts headers too.
const headerBudget = 1024

// AppenderConfig configures an Appender.
type AppenderConfig struct {
	Stream  string // default StreamName(Site)
	Subject string // default SubjectName(Site)
	// SnapshotSubject carries the snapshot-begin and snapshot-end markers
	// (default SnapshotSubjectName(Site)). When the stream does not take it
	// (a stream provisioned before it existed and not yet updated by
	// EnsureStream), markers go on Subject, still one per message.
	SnapshotSubject string
	Site            string
	// Epoch is written on every message; the appender refuses to write to a
	// stream that holds a newer one.
	Epoch uint64
	// WriterID identifies this appender instance (unique per process start);
	// a message of another writer after this one's last ack fences it out.
	WriterID string
	// MaxBatchBytes bounds the encoded events grouped into one message; it is
	// lowered to fit the server's max payload.
	MaxBatchBytes int
	// Linger is how long a partly filled message waits for more events.
	Linger time.Duration
	// MaxPending bounds the messages published and not yet acknowledged.
	MaxPending int
	// AckTimeout is how long the oldest unacknowledged message may wait before
	// the appender stops trusting the acks and re-reads the stream tail.
	AckTimeout time.Duration
	// RetryMaxInterval caps the backoff between attempts to re-read the tail
	// while the server is unreachable. Retries go on until Close.
	RetryMaxInterval time.Duration
	Logger           hclog.Logger
}

// DefaultAppenderConfig returns the defaults for a site; WriterID and Epoch
// are left to the caller.
func DefaultAppenderConfig(site string) AppenderConfig {
	return AppenderConfig{
		Stream:           StreamName(site),
		Subject:          SubjectName(site),
		SnapshotSubject:  SnapshotSubjectName(site),
		Site:             site,
		MaxBatchBytes:    256 << 10,
		Linger:           5 * time.Millisecond,
		MaxPending:       256,
		AckTimeout:       10 * time.Second,
		RetryMaxInterval: 5 * time.Second,
	}
}

// withDefaults returns c with every unset field filled from
// DefaultAppenderConfig.
func (c AppenderConfig) withDefaults() AppenderConfig {
	d := DefaultAppenderConfig(c.Site)
	if c.Stream == "" {
		c.Stream = d.Stream
	}
	if c.Subject == "" {
		c.Subject = d.Subject
	}
	if c.SnapshotSubject == "" {
		c.SnapshotSubject = d.SnapshotSubject
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = d.MaxBatchBytes
	}
	if c.Linger == 0 {
		c.Linger = d.Linger
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = d.AckTimeout
	}
	if c.RetryMaxInterval == 0 {
		c.RetryMaxInterval = d.RetryMaxInterval
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// Validate reports the first setting that cannot be used; an unset field
// stands for its default. It does not change c.
func (c AppenderConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Site == "":
		return errors.New("journal: appender site is required")
	case c.WriterID == "":
		return errors.New("journal: appender writer id is required")
	case c.Epoch == 0:
		return errors.New("journal: appender epoch must be at least 1")
	case c.MaxBatchBytes < 0 || c.MaxPending < 0 || c.Linger < 0 || c.AckTimeout < 0:
		return errors.New("journal: appender limits must not be negative")
	}
	return nil
}

// outMsg is one prepared journal message; seq is the stream sequence it must
// land at, fixed when it is cut, so a re-sent message carries the same
// Nats-Msg-Id and expected-last-sequence as the first attempt.
type outMsg struct {
	msg    *nats.Msg
	id     string
	seq    uint64
	fut    jetstream.PubAckFuture
	sentAt time.Time
	readAt time.Time // the earliest readAt of its events (see AppendRead); zero if none had one
}

// item is what Append and Flush hand to the loop.
type item struct {
	body     []byte
	ident    uint64
	kind     Kind
	snapshot uint64
	zxid     int64 // the largest of the event's zxid, mzxid and pzxid
	readAt   time.Time
	flush    chan error
}

type flushWaiter struct {
	target uint64 // messages cut so far when the flush was asked
	done   chan error
}

// Appender appends events to a journal stream in order, pipelined, fenced by
// expected-last-sequence and epoch. Append and Flush may be called from any
// goroutine; order is the order of Append calls. One goroutine (started by
// Open, stopped by Close) owns the batch, the in-flight window and recovery.
type Appender struct {
	js     jetstream.JetStream
	cfg    AppenderConfig
	log    hclog.Logger
	stream jetstream.Stream

	in      chan item
	done    chan struct{} // closed when the loop has exited
	cancel  context.CancelFunc
	maxBody int // largest event encoding that fits one message

	lastSeq atomic.Uint64
	errMu   sync.Mutex
	err     error // sticky: set once, when the loop stops for good
	opened  atomic.Bool
	closing atomic.Bool
	// readAppended times each message from the earliest readAt of its events
	// to its acknowledgement.
	readAppended Histogram

	// Owned by the loop goroutine.
	batch     []byte // batch frame under construction (after the count)
	batchN    int
	batchHash uint64
	nextSeq   uint64 // sequence the next cut message will land at
	prevID    string // Nats-Msg-Id of the message just before nextSeq
	cut       uint64 // messages cut
	acked     uint64 // messages acknowledged
	outbox    []*outMsg
	inflight  []*outMsg
	waiters   []flushWaiter
	lingerT   *time.Timer
	lingerOn  bool
	// warn is log rate-limited, for what an outage repeats on every retry.
	warn *ratelog.Logger
	// markerSubject is where snapshot markers go (SnapshotSubject, or Subject
	// on a stream without it); fixed at Open.
	markerSubject string
	maxZxid       int64  // largest zxid appended since Open
	snapID        uint64 // snapshot begun by this appender and not yet ended
	snapNodes     int64  // snapshot-node events since its begin
	snapEvents    int64  // events since its begin
	// batchRead is the readAt of the batch's earliest event that has one.
	batchRead time.Time
}

// NewAppender validates cfg; it starts nothing (see Open).
func NewAppender(js jetstream.JetStream, cfg AppenderConfig) (*Appender, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.Named("appender").With("stream", cfg.Stream, "writer", cfg.WriterID, "epoch", cfg.Epoch)
	return &Appender{
		js:   js,
		cfg:  cfg,
		log:  log,
		warn: ratelog.Limited(log),
		in:   make(chan item, 256),
		done: make(chan struct{}),
	}, nil
}

// Open reads the stream's tail, refuses with ErrStaleEpoch if the stream holds
// a newer epoch, and starts publishing. The next message is expected right
// after the current tail.
func (a *Appender) Open(ctx context.Context) (err error) {
	if a.opened.Swap(true) {
		return errors.New("journal: appender already open")
	}
	defer func() {
		if err != nil {
			a.opened.Store(false) // Open may be tried again; Close has nothing to stop
		}
	}()
	s, err := a.js.Stream(ctx, a.cfg.Stream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", a.cfg.Stream, err)
	}
	a.stream = s
	a.markerSubject = a.cfg.SnapshotSubject
	if subjects := s.CachedInfo().Config.Subjects; !subjectsCover(subjects, a.cfg.SnapshotSubject) {
		a.markerSubject = a.cfg.Subject
		a.log.Warn("stream does not take the snapshot subject; snapshot markers go on the journal subject and cannot be listed without reading the journal",
			"snapshot-subject", a.cfg.SnapshotSubject, "subjects", strings.Join(subjects, ","))
	}
	last, err := a.tail(ctx)
	if err != nil {
		return err
	}
	if last.epoch > a.cfg.Epoch {
		return fmt.Errorf("%w: stream %s sequence %d has epoch %d from writer %q, this appender has epoch %d",
			ErrStaleEpoch, a.cfg.Stream, last.seq, last.epoch, last.writer, a.cfg.Epoch)
	}
	a.maxBody = maxPayload(a.js) - headerBudget - frameHeaderLen - 3*10 - frameTrailerLen
	if a.cfg.MaxBatchBytes > a.maxBody {
		a.cfg.MaxBatchBytes = a.maxBody
	}
	a.lastSeq.Store(last.seq)
	a.nextSeq = last.seq + 1
	a.prevID = last.msgID
	a.log.Debug("appender open", "journal-seq", last.seq, "tail-writer", last.writer, "tail-epoch", last.epoch)
	lctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go a.loop(lctx)
	return nil
}

func maxPayload(js jetstream.JetStream) int {
	if nc := js.Conn(); nc != nil {
		if mp := nc.MaxPayload(); mp > 0 {
			return int(mp)
		}
	}
	return 1 << 20
}

// tailInfo is what the last message of a stream says about its writer.
type tailInfo struct {
	seq    uint64
	epoch  uint64
	writer string
	msgID  string
}

func (a *Appender) tail(ctx context.Context) (tailInfo, error) {
	info, err := a.stream.Info(ctx)
	if err != nil {
		return tailInfo{}, fmt.Errorf("read tail of %s: %w", a.cfg.Stream, err)
	}
	t := tailInfo{seq: info.State.LastSeq}
	if t.seq == 0 || info.State.Msgs == 0 {
		return t, nil
	}
	m, err := a.stream.GetMsg(ctx, t.seq)
	if err != nil {
		return t, fmt.Errorf("read message %d of %s: %w", t.seq, a.cfg.Stream, err)
	}
	return headerTail(m), nil
}

func headerTail(m *jetstream.RawStreamMsg) tailInfo {
	t := tailInfo{seq: m.Sequence, writer: m.Header.Get(HeaderWriter), msgID: m.Header.Get(jetstream.MsgIDHeader)}
	t.epoch, _ = strconv.ParseUint(m.Header.Get(HeaderEpoch), 10, 64)
	return t
}

// Append queues one event; it blocks while MaxPending messages are in flight.
// Site and Epoch are filled from the config when zero. The error is the
// appender's sticky error once it has stopped (ErrFenced, ErrStaleEpoch,
// ErrClosed) or ctx's.
func (a *Appender) Append(ctx context.Context, ev Event) error {
	return a.AppendRead(ctx, ev, time.Time{})
}

// AppendRead is Append for an event whose state was read at readAt (this
// host's clock, with its monotonic reading; zero: unknown). The appender
// times each message from the earliest readAt among its events to the
// server's acknowledgement: ReadAppended.
func (a *Appender) AppendRead(ctx context.Context, ev Event, readAt time.Time) error {
	if err := a.Err(); err != nil {
		return err
	}
	if !a.opened.Load() || a.closing.Load() {
		return ErrClosed
	}
	if ev.Site == "" {
		ev.Site = a.cfg.Site
	}
	if ev.Epoch == 0 {
		ev.Epoch = a.cfg.Epoch
	}
	if ev.Epoch != a.cfg.Epoch {
		return fmt.Errorf("journal: event of epoch %d given to an appender of epoch %d", ev.Epoch, a.cfg.Epoch)
	}
	it := item{body: AppendEvent(make([]byte, 0, eventSizeHint(&ev)), &ev), ident: identity(&ev),
		kind: ev.Kind, snapshot: ev.Snapshot, zxid: max(ev.Zxid, ev.Stat.Mzxid, ev.Stat.Pzxid), readAt: readAt}
	select {
	case a.in <- it:
		return nil
	case <-a.done:
		return a.stopErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// identity hashes what makes an event itself, for the message id.
func identity(ev *Event) uint64 {
	h := fnv.New64a()
	var b [32]byte
	b[0] = byte(ev.Kind)
	binary.BigEndian.PutUint64(b[1:], uint64(ev.Zxid))
	binary.BigEndian.PutUint64(b[9:], ev.Snapshot)
	binary.BigEndian.PutUint64(b[17:], uint64(ev.Time))
	h.Write(b[:25])
	h.Write([]byte(ev.Path))
	return h.Sum64()
}

// Flush waits until every event appended before it is acknowledged.
func (a *Appender) Flush(ctx context.Context) error {
	if err := a.Err(); err != nil {
		return err
	}
	if !a.opened.Load() {
		return ErrClosed
	}
	done := make(chan error, 1)
	select {
	case a.in <- item{flush: done}:
	case <-a.done:
		return a.stopErr()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-a.done:
		return a.stopErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReadAppended is how long messages took from the read of their earliest
// event (AppendRead's readAt) to their acknowledgement by the server, one
// observation per acknowledged message that had a readAt; messages confirmed
// after a failure count when the stream's tail shows them landed.
func (a *Appender) ReadAppended() HistogramSnapshot { return a.readAppended.Snapshot() }

// LastSeq is the stream sequence of the last acknowledged message.
func (a *Appender) LastSeq() uint64 { return a.lastSeq.Load() }

// Err is the error that stopped the appender for good, or nil.
func (a *Appender) Err() error {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.err
}

func (a *Appender) stopErr() error {
	if err := a.Err(); err != nil {
		return err
	}
	return ErrClosed
}

func (a *Appender) setErr(err error) {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	if a.err == nil {
		a.err = err
	}
}

// Close flushes what was appended and stops. An appender that stopped with an
// error returns it.
func (a *Appender) Close(ctx context.Context) error {
	if !a.opened.Load() || a.closing.Swap(true) {
		return nil
	}
	var err error
	if a.Err() == nil {
		err = a.Flush(ctx)
	}
	a.cancel()
	<-a.done
	if err == nil {
		err = a.Err()
	}
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return err
}

// loop owns the batch, the outbox and the in-flight window.
func (a *Appender) loop(ctx context.Context) {
	defer close(a.done)
	a.lingerT = time.NewTimer(time.Hour)
	a.lingerT.Stop()
	ackT := time.NewTimer(time.Hour)
	defer ackT.Stop()
	err := a.run(ctx, ackT)
	if err == nil {
		err = ErrClosed
	}
	a.setErr(err)
	for _, w := range a.waiters {
		w.done <- err
	}
	a.waiters = nil
}

func (a *Appender) run(ctx context.Context, ackT *time.Timer) error {
	for {
		if err := a.send(); err != nil {
			if err := a.recover(ctx, err); err != nil {
				return err
			}
			continue
		}
		in := a.in
		if len(a.outbox)+len(a.inflight) >= a.cfg.MaxPending {
			in = nil // backpressure: Append blocks on the channel
		}
		var okCh <-chan *jetstream.PubAck
		var errCh <-chan error
		var ackC <-chan time.Time
		if len(a.inflight) > 0 {
			head := a.inflight[0]
			okCh, errCh = head.fut.Ok(), head.fut.Err()
			ackT.Reset(time.Until(head.sentAt.Add(a.cfg.AckTimeout)))
			ackC = ackT.C
		}
		var lingerC <-chan time.Time
		if a.lingerOn {
			lingerC = a.lingerT.C
		}
		var fail error
		select {
		case <-ctx.Done():
			return nil
		case it := <-in:
			if it.flush != nil {
				a.cutBatch()
				a.waiters = append(a.waiters, flushWaiter{target: a.cut, done: it.flush})
				a.releaseWaiters()
				break
			}
			a.add(it)
		case <-lingerC:
			a.lingerOn = false
			a.cutBatch()
		case ack := <-okCh:
			fail = a.acknowledge(ack)
		case err := <-errCh:
			fail = fmt.Errorf("publish sequence %d: %w", a.inflight[0].seq, err)
		case <-ackC:
			fail = fmt.Errorf("publish sequence %d: no ack within %s", a.inflight[0].seq, a.cfg.AckTimeout)
		}
		if ackC != nil && !ackT.Stop() {
			select {
			case <-ackT.C:
			default:
			}
		}
		if fail != nil {
			if err := a.recover(ctx, fail); err != nil {
				return err
			}
		}
	}
}

// add puts one encoded event into the batch, cutting messages by size. A
// snapshot marker goes alone into its own message instead.
func (a *Appender) add(it item) {
	a.maxZxid = max(a.maxZxid, it.zxid)
	if it.kind == KindSnapshotBegin || it.kind == KindSnapshotEnd {
		a.addMarker(it)
		return
	}
	if a.snapID != 0 {
		a.snapEvents++
		if it.kind == KindSnapshotNode {
			a.snapNodes++
		}
	}
	if len(it.body) > a.maxBody {
		a.cutBatch()
		a.cutChunks(it)
		return
	}
	if a.batchN > 0 && len(a.batch)+len(it.body)+binary.MaxVarintLen32 > a.cfg.MaxBatchBytes {
		a.cutBatch()
	}
	if a.batchRead.IsZero() {
		a.batchRead = it.readAt
	}
	a.batch = appendBody(a.batch, it.body)
	a.batchN++
	a.batchHash = a.batchHash*1099511628211 ^ it.ident
	if len(a.batch) >= a.cfg.MaxBatchBytes {
		a.cutBatch()
		return
	}
	if !a.lingerOn {
		a.lingerT.Reset(a.cfg.Linger)
		a.lingerOn = true
	}
}

// cutBatch turns the batch under construction into an outbox message.
func (a *Appender) cutBatch() {
	if a.lingerOn {
		if !a.lingerT.Stop() {
			select {
			case <-a.lingerT.C:
			default:
			}
		}
		a.lingerOn = false
	}
	if a.batchN == 0 {
		return
	}
	buf := make([]byte, 0, frameHeaderLen+binary.MaxVarintLen32+len(a.batch)+frameTrailerLen)
	buf = append(buf, SchemaVersion, frameBatch)
	buf = binary.AppendUvarint(buf, uint64(a.batchN))
	buf = append(buf, a.batch...)
	a.enqueue(sealFrame(buf), a.batchN, a.batchHash, "").readAt = a.batchRead
	a.batch = a.batch[:0]
	a.batchN = 0
	a.batchHash = 0
	a.batchRead = time.Time{}
}

// addMarker cuts the batch under construction and publishes a snapshot marker
// as its own message on the marker subject, in order with everything else (the
// same sequence and fencing as any message).
func (a *Appender) addMarker(it item) {
	a.cutBatch()
	buf := make([]byte, 0, frameHeaderLen+binary.MaxVarintLen32*2+len(it.body)+frameTrailerLen)
	buf = append(buf, SchemaVersion, frameBatch)
	buf = binary.AppendUvarint(buf, 1)
	buf = appendBody(buf, it.body)
	m := a.enqueue(sealFrame(buf), 1, it.ident, "")
	m.readAt = it.readAt
	m.msg.Subject = a.markerSubject
	h := m.msg.Header
	h[HeaderSnapshot] = []string{strconv.FormatUint(it.snapshot, 10)}
	h[HeaderKind] = []string{it.kind.String()}
	h[HeaderZxid] = []string{strconv.FormatInt(a.maxZxid, 10)}
	switch {
	case it.kind == KindSnapshotBegin:
		a.snapID, a.snapNodes, a.snapEvents = it.snapshot, 0, 0
	case a.snapID == it.snapshot:
		h[HeaderSnapshotNodes] = []string{strconv.FormatInt(a.snapNodes, 10)}
		h[HeaderSnapshotEvents] = []string{strconv.FormatInt(a.snapEvents, 10)}
		a.snapID = 0
	}
}

// cutChunks splits an event too large for one message into consecutive ones.
func (a *Appender) cutChunks(it item) {
	parts := (len(it.body) + a.maxBody - 1) / a.maxBody
	for p := 0; p < parts; p++ {
		piece := it.body[p*a.maxBody : min((p+1)*a.maxBody, len(it.body))]
		a.enqueue(encodeChunk(p, parts, len(it.body), piece), 1, it.ident^uint64(p+1)<<56,
			strconv.Itoa(p)+"/"+strconv.Itoa(parts)).readAt = it.readAt
	}
}

// enqueue turns data into the next outbox message on the journal subject and
// returns it, so a caller may move it to another subject or add headers before
// it is sent.
func (a *Appender) enqueue(data []byte, events int, hash uint64, chunk string) *outMsg {
	seq := a.nextSeq
	a.nextSeq++
	a.cut++
	// The id is bound to the site, epoch, position and content: a re-sent
	// message is recognised, and the same event legitimately published again
	// later (a re-walk) is never taken for a duplicate.
	id := a.cfg.Site + "." + strconv.FormatUint(a.cfg.Epoch, 10) + "." + strconv.FormatUint(seq, 10) + "." + strconv.FormatUint(hash, 16)
	h := nats.Header{
		jetstream.MsgIDHeader:           []string{id},
		jetstream.ExpectedStreamHeader:  []string{a.cfg.Stream},
		jetstream.ExpectedLastSeqHeader: []string{strconv.FormatUint(seq-1, 10)},
		HeaderVersion:                   []string{strconv.Itoa(SchemaVersion)},
		HeaderSite:                      []string{a.cfg.Site},
		HeaderEpoch:                     []string{strconv.FormatUint(a.cfg.Epoch, 10)},
		HeaderWriter:                    []string{a.cfg.WriterID},
		HeaderEvents:                    []string{strconv.Itoa(events)},
	}
	// Expected-last-sequence alone would let a fenced writer's later pipelined
	// messages land whenever the stream happens to reach their position; also
	// expecting the previous message's id means each message lands only right
	// after its own predecessor.
	if a.prevID != "" {
		h[jetstream.ExpectedLastMsgIDHeader] = []string{a.prevID}
	}
	a.prevID = id
	if chunk != "" {
		h[HeaderChunk] = []string{chunk}
	}
	m := &outMsg{msg: &nats.Msg{Subject: a.cfg.Subject, Header: h, Data: data}, id: id, seq: seq}
	a.outbox = append(a.outbox, m)
	return m
}

// send publishes outbox messages while the window has room.
func (a *Appender) send() error {
	for len(a.outbox) > 0 && len(a.inflight) < a.cfg.MaxPending {
		m := a.outbox[0]
		fut, err := a.js.PublishMsgAsync(m.msg)
		if err != nil {
			return fmt.Errorf("publish sequence %d: %w", m.seq, err)
		}
		m.fut, m.sentAt = fut, time.Now()
		a.outbox = a.outbox[1:]
		a.inflight = append(a.inflight, m)
	}
	return nil
}

// acknowledge accepts the head's ack if it landed where it had to.
func (a *Appender) acknowledge(ack *jetstream.PubAck) error {
	head := a.inflight[0]
	if ack.Sequence != head.seq {
		return fmt.Errorf("publish sequence %d: acknowledged at sequence %d (duplicate %v)", head.seq, ack.Sequence, ack.Duplicate)
	}
	a.inflight[0] = nil
	a.inflight = a.inflight[1:]
	if !head.readAt.IsZero() {
		a.readAppended.Observe(time.Since(head.readAt))
	}
	a.confirm(1, head.seq)
	return nil
}

func (a *Appender) confirm(n int, seq uint64) {
	a.acked += uint64(n)
	a.lastSeq.Store(seq)
	a.releaseWaiters()
}

func (a *Appender) releaseWaiters() {
	i := 0
	for ; i < len(a.waiters) && a.waiters[i].target <= a.acked; i++ {
		a.waiters[i].done <- nil
	}
	a.waiters = a.waiters[i:]
}

// recover handles a failed or doubtful publish. Every message not yet
// acknowledged is in doubt; the stream's tail says which of them landed
// (they are recognised by writer and message id, in order). Those are
// confirmed and the rest are re-sent in order from the real tail. A message
// of another writer in the tail fences this appender out; one of a newer
// epoch makes it stale. Server outages are retried with backoff until Close.
func (a *Appender) recover(ctx context.Context, cause error) error {
	doubt := append(a.inflight, a.outbox...)
	a.inflight, a.outbox = nil, nil
	last := a.lastSeq.Load()
	a.warn.Warn("append failed, re-reading the stream tail", "error", cause, "journal-seq", last, "in-doubt", len(doubt))

	var landed int
	op := func() error {
		t, err := a.tail(ctx)
		if err != nil {
			return err
		}
		if t.seq < last {
			return backoff.Permanent(fmt.Errorf("%w: stream %s last sequence %d is below acknowledged sequence %d (stream reset?)",
				ErrFenced, a.cfg.Stream, t.seq, last))
		}
		if t.epoch > a.cfg.Epoch {
			return backoff.Permanent(fmt.Errorf("%w: stream %s sequence %d has epoch %d from writer %q, this appender has epoch %d",
				ErrStaleEpoch, a.cfg.Stream, t.seq, t.epoch, t.writer, a.cfg.Epoch))
		}
		for s := last + 1; s <= t.seq; s++ {
			m := t
			if s != t.seq {
				raw, err := a.stream.GetMsg(ctx, s)
				if err != nil {
					return fmt.Errorf("read message %d of %s: %w", s, a.cfg.Stream, err)
				}
				m = headerTail(raw)
			}
			i := int(s - last - 1)
			if m.writer != a.cfg.WriterID || i >= len(doubt) || m.msgID != doubt[i].id {
				if m.epoch > a.cfg.Epoch {
					return backoff.Permanent(fmt.Errorf("%w: stream %s sequence %d has epoch %d from writer %q, this appender has epoch %d",
						ErrStaleEpoch, a.cfg.Stream, s, m.epoch, m.writer, a.cfg.Epoch))
				}
				return backoff.Permanent(fmt.Errorf("%w: stream %s sequence %d was written by writer %q epoch %d after this appender's last ack %d",
					ErrFenced, a.cfg.Stream, s, m.writer, m.epoch, last))
			}
		}
		landed = int(t.seq - last)
		return nil
	}
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(50*time.Millisecond),
		backoff.WithMaxInterval(a.cfg.RetryMaxInterval), backoff.WithMaxElapsedTime(0))
	err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), func(err error, d time.Duration) {
		a.warn.Warn("stream tail unavailable, retrying", "error", err, "backoff", d)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		a.log.Error("appender stopped", "error", err)
		return err
	}
	if landed > 0 {
		now := time.Now()
		for _, m := range doubt[:landed] {
			if !m.readAt.IsZero() {
				a.readAppended.Observe(now.Sub(m.readAt))
			}
		}
		a.confirm(landed, last+uint64(landed))
	}
	a.outbox = doubt[landed:]
	a.log.Debug("appender resumed", "journal-seq", a.lastSeq.Load(), "landed", landed, "resend", len(a.outbox))
	return nil
}
