package zkwire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/ratelog"
)

// Buffer sizes of each connection's bufio reader and writer: large enough that
// a burst of pipelined requests or replies costs few syscalls.
const (
	readBufSize  = 64 << 10
	writeBufSize = 64 << 10
)

// closeWait bounds how long Close waits for the server to answer closeSession
// after the last reply it saw.
const closeWait = time.Second

// errRefused is connect's report that the server accepted the connection
// and closed it without answering the connect request: it refuses sessions
// while it serves no quorum, and refuses a client that has seen a later zxid
// than its own.
var errRefused = errors.New("zkwire: server closed the connection without answering the connect request")

// errExpired is connect's report that the server refused the session id as
// expired; run then starts a new session at once.
var errExpired = errors.New("zkwire: session expired")

// emptyPasswd is the password of a connect request without a session.
var emptyPasswd = make([]byte, 16)

// Conn is one ZooKeeper session. It reconnects in the background, keeping the
// session when the server allows it, until Close.
//
// Locks: qmu (the queue), pmu (in-flight calls), wmu (persistent watches) and
// smu (server address) are never held together.
type Conn struct {
	cfg  Config
	log  hclog.Logger
	rlog *ratelog.Logger // rate-limited, for repeated connect failures; flushed when run ends

	ctx    context.Context // cancelled by Close; aborts dials and handshakes
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	qmu     sync.Mutex
	queue   []pendingCall
	closed  bool
	qsignal chan struct{} // capacity 1: "the queue is not empty"

	pmu     sync.Mutex
	pending map[int32]pendingCall

	wmu     sync.Mutex
	watches map[string]int32 // path -> addWatch mode, for setWatches2

	smu    sync.Mutex
	server string
	passwd []byte // the session's password; written only by run

	sessionID  atomic.Int64
	lastZxid   atomic.Int64
	framesRead atomic.Uint64 // progress of the reader, for Close

	// Owned by run and the goroutines it starts for one connection (which never
	// overlap with run's own use of them).
	timeout time.Duration // negotiated session timeout
	xid     int32
	enc     encoder
	early   []Event // notifications read during a handshake
}

// wire is one TCP connection of the session.
type wire struct {
	nc   net.Conn
	addr string
	br   *bufio.Reader
	bw   *bufio.Writer
	stop chan struct{} // closed to stop the writer
	dec  decoder       // the reader's
}

// Dial validates cfg, connects and returns once a session is established and
// Auth (if any) accepted. ctx bounds only this wait; after Dial returns, the Conn
// reconnects in the background until Close. A refused Auth fails Dial at once
// with an error wrapping ErrAuthFailed and zk.ErrAuthFailed.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	logger = logger.Named("zkwire")
	c := &Conn{
		cfg:     cfg,
		log:     logger,
		rlog:    ratelog.Limited(logger),
		done:    make(chan struct{}),
		qsignal: make(chan struct{}, 1),
		pending: make(map[int32]pendingCall),
		watches: make(map[string]int32),
		passwd:  emptyPasswd,
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	ready := make(chan error, 1)
	go c.run(ready)
	select {
	case err := <-ready:
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		_ = c.Close()
		return nil, fmt.Errorf("dial zookeeper: %w", ctx.Err())
	}
}

// Close ends the session: queued calls fail with zk.ErrClosing, closeSession is
// sent (best effort, bounded by a second), the socket is closed, in-flight calls
// fail with zk.ErrClosing, and every goroutine has exited when it returns. It is
// idempotent.
func (c *Conn) Close() error {
	c.qmu.Lock()
	var queued []pendingCall
	if !c.closed {
		c.closed = true
		queued, c.queue = c.queue, nil
	}
	c.qmu.Unlock()
	for _, pc := range queued {
		pc.fail(zk.ErrClosing)
	}
	c.cancel()
	<-c.done
	return nil
}

// SessionID is the current session's id (0 before the first session).
func (c *Conn) SessionID() int64 { return c.sessionID.Load() }

// Server is the address of the current connection, "" while disconnected.
func (c *Conn) Server() string {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.server
}

// LastZxid is the largest zxid seen in a reply header.
func (c *Conn) LastZxid() int64 { return c.lastZxid.Load() }

func (c *Conn) setServer(s string) {
	c.smu.Lock()
	c.server = s
	c.smu.Unlock()
}

func (c *Conn) emit(ev Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
}

// enqueue appends a call to the one queue the writer drains in order.
func (c *Conn) enqueue(pc pendingCall) {
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		pc.fail(zk.ErrClosing)
		return
	}
	c.queue = append(c.queue, pc)
	c.qmu.Unlock()
	select {
	case c.qsignal <- struct{}{}:
	default:
	}
}

// requeue puts calls the writer took but could not write back at the front of
// the queue, so they go out first on the next connection.
func (c *Conn) requeue(pcs []pendingCall) {
	if len(pcs) == 0 {
		return
	}
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		for _, pc := range pcs {
			pc.fail(zk.ErrClosing)
		}
		return
	}
	c.queue = append(append(make([]pendingCall, 0, len(pcs)+len(c.queue)), pcs...), c.queue...)
	c.qmu.Unlock()
}

// run is the lifecycle goroutine: connect, serve until the connection ends,
// reconnect, until Close. It reports the first session (or a refused Auth) on
// ready.
func (c *Conn) run(ready chan<- error) {
	defer close(c.done)
	// No summary timer may outlive the Conn (and log after it is gone).
	defer c.rlog.Flush()
	servers := c.cfg.Servers
	next := rand.IntN(len(servers))
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 20 * time.Millisecond
	bo.MaxInterval = time.Second
	bo.MaxElapsedTime = 0
	first := true
	failures := 0
	var lostAt time.Time // when the session last lost its connection
	for {
		if c.ctx.Err() != nil {
			return
		}
		addr := servers[next]
		c.early = c.early[:0]
		w, newSession, err := c.connect(addr)
		if errors.Is(err, errExpired) {
			continue // same server, new session, no wait
		}
		if sid := c.sessionID.Load(); errors.Is(err, errRefused) && sid != 0 && !lostAt.IsZero() && time.Since(lostAt) > c.timeout {
			// No server took the session back within its timeout, so none
			// can still hold it; if every server refuses us for having seen
			// a later zxid, the ensemble's history went back (restored from
			// a backup) and no server ever will. Start a new session that
			// has seen nothing.
			c.log.Warn("servers refused the session for longer than its timeout; starting a new session (was the ensemble restored from a backup?)",
				"zk-server", addr, "session-id", hexID(sid), "last-zxid", hexID(c.lastZxid.Load()), "lost-for", time.Since(lostAt).Round(time.Millisecond))
			c.lastZxid.Store(0)
			c.expire(addr, sid)
			lostAt = time.Time{}
			continue
		}
		if err != nil {
			next = (next + 1) % len(servers)
			if c.ctx.Err() != nil {
				return
			}
			var ae authError
			if errors.As(err, &ae) {
				if first {
					ready <- err
					return
				}
				c.rlog.Error("server refused authentication", "zk-server", addr)
			} else {
				failures++
				c.log.Debug("connect failed", "zk-server", addr, "error", err)
				if failures%len(servers) == 0 {
					c.rlog.Warn("cannot connect to any server", "zk-servers", len(servers), "error", err)
				}
			}
			t := time.NewTimer(bo.NextBackOff())
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		failures = 0
		bo.Reset()
		sid := c.sessionID.Load()
		c.setServer(addr)
		c.log.Info("connected", "zk-server", addr, "session-id", hexID(sid), "session-timeout", c.timeout, "new-session", newSession)
		c.emit(Event{Kind: EventConnected, Server: addr, SessionID: sid, NewSession: newSession})
		for _, ev := range c.early {
			c.emit(ev)
		}
		c.early = c.early[:0]
		if first {
			first = false
			ready <- nil
		}
		err = c.serve(w)
		c.setServer("")
		if c.ctx.Err() != nil {
			return
		}
		lostAt = time.Now()
		c.log.Warn("lost connection", "zk-server", addr, "session-id", hexID(sid), "error", err)
		c.emit(Event{Kind: EventDisconnected, Server: addr, SessionID: sid})
		// A lost server is likely to stay lost for a while: go on to the next.
		next = (next + 1) % len(servers)
	}
}

func hexID(id int64) string { return "0x" + strconv.FormatUint(uint64(id), 16) }

// connect dials addr and runs the handshake: connect request, auth, and (on a
// same-session reconnect) setWatches2. newSession reports whether the server
// gave a session other than the one asked for.
func (c *Conn) connect(addr string) (w *wire, newSession bool, err error) {
	d := net.Dialer{Timeout: c.cfg.ConnectTimeout}
	nc, err := d.DialContext(c.ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = nc.Close()
		}
	}()
	// Close must not wait out a handshake: cancelling ctx moves the deadline.
	_ = nc.SetDeadline(time.Now().Add(c.cfg.ConnectTimeout))
	stopAbort := context.AfterFunc(c.ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stopAbort()

	w = &wire{
		nc:   nc,
		addr: addr,
		br:   bufio.NewReaderSize(nc, readBufSize),
		bw:   bufio.NewWriterSize(nc, writeBufSize),
		stop: make(chan struct{}),
	}
	oldSession := c.sessionID.Load()
	req := connectRequest{
		LastZxidSeen: c.lastZxid.Load(),
		TimeOut:      int32(c.cfg.SessionTimeout.Milliseconds()),
		SessionID:    oldSession,
		Passwd:       c.passwd,
	}
	req.encode(&c.enc)
	if err := c.writeFlush(w, c.enc.buf); err != nil {
		return nil, false, fmt.Errorf("send connect request: %w", err)
	}
	frame, err := readFrame(w.br, nil)
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return nil, false, fmt.Errorf("read connect response: %w: %w", errRefused, err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read connect response: %w", err)
	}
	resp, err := decodeConnectResponse(frame)
	if err != nil {
		return nil, false, fmt.Errorf("read connect response: %w", err)
	}
	if resp.TimeOut <= 0 {
		if oldSession == 0 {
			return nil, false, fmt.Errorf("%w: server refused a new session", ErrProtocol)
		}
		c.expire(addr, oldSession)
		return nil, false, errExpired
	}
	c.sessionID.Store(resp.SessionID)
	c.smu.Lock()
	c.passwd = resp.Passwd
	c.smu.Unlock()
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	newSession = resp.SessionID != oldSession

	if c.cfg.Auth != "" {
		if err := c.authenticate(w); err != nil {
			return nil, false, err
		}
	}
	if !newSession {
		if err := c.restoreWatches(w); err != nil {
			return nil, false, err
		}
	}
	_ = nc.SetDeadline(time.Time{})
	ok = true
	return w, newSession, nil
}

// expire forgets the expired session and everything bound to it.
func (c *Conn) expire(addr string, sid int64) {
	c.sessionID.Store(0)
	c.smu.Lock()
	c.passwd = emptyPasswd
	c.smu.Unlock()
	c.wmu.Lock()
	n := len(c.watches)
	clear(c.watches)
	c.wmu.Unlock()
	c.log.Info("session expired", "zk-server", addr, "session-id", hexID(sid), "watches-lost", n)
	c.emit(Event{Kind: EventExpired, Server: addr, SessionID: sid})
}

func (c *Conn) writeFlush(w *wire, frame []byte) error {
	if _, err := w.bw.Write(frame); err != nil {
		return err
	}
	return w.bw.Flush()
}

// authenticate sends Config.Auth as a digest addAuth and waits for its answer.
func (c *Conn) authenticate(w *wire) error {
	c.enc.requestHeader(xidAuth, opAuth)
	c.enc.int32(0)
	c.enc.string("digest")
	c.enc.buffer([]byte(c.cfg.Auth))
	if err := c.writeFlush(w, c.enc.finish()); err != nil {
		return fmt.Errorf("send auth: %w", err)
	}
	var authErr error
	err := c.readUntil(w, xidAuth, 1, func(h replyHeader) {
		if h.Err != codeOK {
			authErr = authError{}
		}
	})
	if err != nil {
		if authErr != nil {
			return authErr // the server closes the connection right after refusing
		}
		return fmt.Errorf("read auth reply: %w", err)
	}
	return authErr
}

// restoreWatches registers the session's persistent watches on a new connection.
// The server does not replay what they missed while disconnected; the caller
// catches up after EventConnected.
func (c *Conn) restoreWatches(w *wire) error {
	c.wmu.Lock()
	sets := splitSetWatches(c.lastZxid.Load(), c.watches)
	c.wmu.Unlock()
	if len(sets) == 0 {
		return nil
	}
	for i := range sets {
		sets[i].encode(&c.enc)
		if _, err := w.bw.Write(c.enc.buf); err != nil {
			return fmt.Errorf("send set watches: %w", err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("send set watches: %w", err)
	}
	var failed error
	err := c.readUntil(w, xidSetWatches, len(sets), func(h replyHeader) {
		if h.Err != codeOK && failed == nil {
			failed = fmt.Errorf("set watches: %w", codeError(h.Err))
		}
	})
	if err != nil {
		return fmt.Errorf("read set watches reply: %w", err)
	}
	return failed
}

// readUntil reads frames during the handshake until n replies with xid have
// arrived, delivering notifications that come in between.
func (c *Conn) readUntil(w *wire, xid int32, n int, reply func(replyHeader)) error {
	var buf []byte
	for n > 0 {
		var err error
		buf, err = readFrame(w.br, buf)
		if err != nil {
			return err
		}
		d := decoder{b: buf}
		h := d.replyHeader()
		if d.err != nil {
			return d.err
		}
		c.noteZxid(h.Zxid)
		switch h.Xid {
		case xid:
			reply(h)
			n--
		case xidNotification:
			ev, err := decodeWatcherEvent(&d)
			if err != nil {
				return err
			}
			// Delivered after EventConnected, which the handshake precedes.
			c.early = append(c.early, Event{Kind: EventNotification, Type: zk.EventType(ev.Type), Path: ev.Path, Zxid: h.Zxid})
		case xidPing:
		default:
			return fmt.Errorf("%w: reply xid %d during handshake", ErrProtocol, h.Xid)
		}
	}
	return nil
}

func (c *Conn) noteZxid(z int64) {
	if z > c.lastZxid.Load() {
		c.lastZxid.Store(z) // only the goroutine reading the socket stores (and run, between connections)
	}
}

func (c *Conn) notify(h replyHeader, d *decoder) error {
	ev, err := decodeWatcherEvent(d)
	if err != nil {
		return err
	}
	c.emit(Event{Kind: EventNotification, Type: zk.EventType(ev.Type), Path: ev.Path, Zxid: h.Zxid})
	return nil
}

// serve runs one connection's reader and writer until the connection fails or
// Close, then fails every in-flight call. It returns why the connection ended.
func (c *Conn) serve(w *wire) error {
	readerDone := make(chan error, 1)
	writerDone := make(chan error, 1)
	go func() { readerDone <- c.readLoop(w) }()
	go func() { writerDone <- c.writeLoop(w) }()

	var err error
	select {
	case err = <-readerDone:
		_ = w.nc.Close()
		close(w.stop)
		<-writerDone
	case err = <-writerDone:
		_ = w.nc.Close()
		close(w.stop)
		<-readerDone
	case <-c.ctx.Done():
		close(w.stop)
		// The writer stops between batches; one stuck on a full socket is cut
		// off rather than waited for.
		t := time.NewTimer(closeWait)
		var wErr error
		select {
		case wErr = <-writerDone:
		case <-t.C:
			_ = w.nc.Close()
			wErr = <-writerDone
		}
		t.Stop()
		if wErr == nil {
			c.closeSession(w, readerDone)
		} else {
			_ = w.nc.Close()
			<-readerDone
		}
		c.failPending(zk.ErrClosing)
		return nil
	}
	c.failPending(zk.ErrConnectionClosed)
	return err
}

// closeSession sends closeSession once the writer has stopped, waits briefly for
// the answer, and closes the socket.
func (c *Conn) closeSession(w *wire, readerDone <-chan error) {
	readerExited := false
	defer func() {
		_ = w.nc.Close()
		if !readerExited {
			<-readerDone
		}
	}()
	call := newCall(request{opcode: opClose}, decEmpty)
	c.xid = nextXid(c.xid)
	call.r.xid = c.xid
	c.pmu.Lock()
	c.pending[call.r.xid] = call
	c.pmu.Unlock()
	_ = w.nc.SetWriteDeadline(time.Now().Add(closeWait))
	if err := c.writeFlush(w, encodeRequest(&c.enc, &call.r)); err != nil {
		return
	}
	// The server answers closeSession after every request before it, and a
	// caller may have thousands in flight: wait while replies keep coming, up
	// to the session timeout (the session is gone by then anyway), but no more
	// than closeWait after the last reply.
	t := time.NewTimer(closeWait)
	defer t.Stop()
	giveUp := time.Now().Add(c.timeout)
	seen := c.framesRead.Load()
	for {
		select {
		case <-call.done:
			c.log.Debug("session closed", "session-id", hexID(c.sessionID.Load()))
			return
		case <-readerDone:
			// The server closes the socket right after answering; the reader
			// may see that before the answer is matched.
			readerExited = true
			return
		case <-t.C:
			if n := c.framesRead.Load(); n != seen && time.Now().Before(giveUp) {
				seen = n
				t.Reset(closeWait)
				continue
			}
			c.log.Debug("close session unanswered", "session-id", hexID(c.sessionID.Load()))
			return
		}
	}
}

// failPending fails every in-flight call. Only run calls it, after the reader
// and writer of the connection have exited.
func (c *Conn) failPending(err error) {
	c.pmu.Lock()
	p := c.pending
	c.pending = make(map[int32]pendingCall, len(p))
	c.pmu.Unlock()
	for _, pc := range p {
		pc.fail(err)
	}
}

func nextXid(x int32) int32 {
	if x == math.MaxInt32 {
		return 1
	}
	return x + 1
}

// writeLoop is the connection's one writer: it drains the queue in order into
// the bufio writer, flushes when the queue runs empty, and pings after a third
// of the session timeout without writes.
func (c *Conn) writeLoop(w *wire) error {
	pingEvery := c.timeout / 3
	ioTimeout := c.timeout * 2 / 3
	timer := time.NewTimer(pingEvery)
	defer timer.Stop()
	lastWrite := time.Now()
	var batch []pendingCall
	flush := func() error {
		_ = w.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
		lastWrite = time.Now()
		return w.bw.Flush()
	}
	for {
		select {
		case <-w.stop:
			return nil
		default:
		}
		c.qmu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.qmu.Unlock()
		if len(batch) == 0 {
			if w.bw.Buffered() > 0 {
				if err := flush(); err != nil {
					return err
				}
			}
			select {
			case <-w.stop:
				return nil
			case <-c.qsignal:
			case <-timer.C:
				if idle := time.Since(lastWrite); idle < pingEvery {
					timer.Reset(pingEvery - idle)
					continue
				}
				c.enc.requestHeader(xidPing, opPing)
				if _, err := w.bw.Write(c.enc.finish()); err != nil {
					return err
				}
				if err := flush(); err != nil {
					return err
				}
				timer.Reset(pingEvery)
			}
			continue
		}
		for i, pc := range batch {
			// A batch can hold every call queued during an outage; Close must
			// not wait for all of them to be written before closeSession.
			if i%256 == 255 {
				select {
				case <-w.stop:
					c.requeue(batch[i:])
					clear(batch)
					return nil
				default:
				}
			}
			if err := c.write(w, pc); err != nil {
				c.requeue(batch[i+1:])
				clear(batch)
				return err
			}
			batch[i] = nil
		}
		// bufio writes to the socket whenever its buffer fills; count that as
		// activity for the ping timer.
		lastWrite = time.Now()
	}
}

// write registers pc as in flight and encodes it into the bufio writer.
func (c *Conn) write(w *wire, pc pendingCall) error {
	r := pc.req()
	c.xid = nextXid(c.xid)
	r.xid = c.xid
	frame := encodeRequest(&c.enc, r)
	if len(frame)-4 > maxFrame {
		pc.fail(fmt.Errorf("%w: request of %d bytes", zk.ErrBadArguments, len(frame)))
		return nil
	}
	c.pmu.Lock()
	c.pending[r.xid] = pc
	c.pmu.Unlock()
	if w.bw.Available() < len(frame) {
		_ = w.nc.SetWriteDeadline(time.Now().Add(c.timeout * 2 / 3))
	}
	_, err := w.bw.Write(frame)
	return err
}

// readLoop is the connection's one reader: it matches replies to calls by xid
// and delivers notifications, until the connection fails or a frame cannot be
// decoded.
func (c *Conn) readLoop(w *wire) error {
	ioTimeout := c.timeout * 2 / 3
	// Moving the deadline on every frame costs a timer update per reply; moving
	// it after an eighth of the timeout has passed keeps the cost negligible and
	// still declares the connection dead well within the session timeout.
	refresh := ioTimeout / 8
	var lastSet time.Time
	var buf []byte
	for {
		if now := time.Now(); now.Sub(lastSet) > refresh {
			_ = w.nc.SetReadDeadline(now.Add(ioTimeout))
			lastSet = now
		}
		var err error
		buf, err = readFrame(w.br, buf)
		if err != nil {
			return err
		}
		c.framesRead.Add(1)
		d := &w.dec // reused: a decoder per frame would escape to the heap
		*d = decoder{b: buf}
		h := d.replyHeader()
		if d.err != nil {
			return d.err
		}
		c.noteZxid(h.Zxid)
		switch h.Xid {
		case xidNotification:
			if err := c.notify(h, d); err != nil {
				return err
			}
			continue
		case xidPing, xidSetWatches, xidAuth:
			continue
		}
		c.pmu.Lock()
		pc, ok := c.pending[h.Xid]
		delete(c.pending, h.Xid)
		c.pmu.Unlock()
		if !ok {
			return fmt.Errorf("%w: reply to unknown xid %d", ErrProtocol, h.Xid)
		}
		if err := pc.complete(h, d); err != nil {
			return err
		}
		if r := pc.req(); r.opcode == opAddWatch && h.Err == codeOK {
			c.wmu.Lock()
			c.watches[r.path] = r.mode
			c.wmu.Unlock()
		}
		if len(buf) > 1<<20 {
			buf = nil // do not pin one huge reply's buffer
		}
	}
}
