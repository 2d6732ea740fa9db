package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// Publisher appends events to the journal in order; *journal.Appender satisfies it.
type Publisher interface {
	Append(ctx context.Context, ev journal.Event) error
	Flush(ctx context.Context) error
}

// opener is a Publisher that is opened before its first Append, as
// *journal.Appender is (Open checks the journal's tail). Run opens it, so a
// journal that refuses the source's lineage when opened stops the source for
// good, as it does at an Append.
type opener interface {
	Open(ctx context.Context) error
}

var _ opener = (*journal.Appender)(nil)

// stagePublisher is a Publisher that is told when each event's state was read
// and times read → appended itself (StageReadAppended), from the read to the
// acknowledgement of the message that holds the event.
type stagePublisher interface {
	Publisher
	AppendRead(ctx context.Context, ev journal.Event, readAt time.Time) error
	ReadAppended() journal.HistogramSnapshot
}

var _ stagePublisher = (*journal.Appender)(nil)

// Config configures a Source.
type Config struct {
	Site  string
	Epoch uint64
	// Servers, SessionTimeout and Auth say how to reach the active ensemble. Auth
	// ("user:password", digest) may be empty and is never logged.
	Servers        []string
	SessionTimeout time.Duration
	Auth           string
	Scope          zkpath.Scope
	// HeartbeatInterval is how often /zkdr/heartbeat is written.
	HeartbeatInterval time.Duration
	// ACLRecheckInterval is how long one pass of the periodic ACL re-read takes
	// (ZooKeeper fires no watch on setACL); 0 turns it off, leaving ACL changes
	// to be noticed when a node's data or children next change.
	ACLRecheckInterval time.Duration
	// ReadConcurrency bounds reads in flight (walk workers, notification tasks).
	ReadConcurrency int
	// BulkSessions is the number of extra sessions a walk opens for ACL reads; 0
	// reads everything on the watching session.
	BulkSessions int
	// SnapshotInterval, when positive, takes a fresh snapshot (snapshot-begin,
	// snapshot-node..., snapshot-end) that often, so a journal that drops old
	// messages by age or size keeps a complete snapshot to re-bootstrap from.
	// 0: only at bootstrap and on request (see RequestSnapshot).
	SnapshotInterval time.Duration
	// SnapshotEveryEvents, when positive, takes a fresh snapshot once that many
	// change events (create, update, delete, acl) were published since the last
	// one began. 0: only at bootstrap and on request.
	SnapshotEveryEvents int64
	// Watch is how the source watches the tree: WatchAuto (the default),
	// WatchRecursive or WatchOneShot (see doc.go).
	Watch string
	// StageReportInterval is how often the source writes its stage latencies
	// to zkpath.Stages on the active ensemble, for zkdr status; 0 writes none.
	StageReportInterval time.Duration
	Logger              hclog.Logger
}

// DefaultConfig returns the defaults; Site, Epoch and Servers must be set.
func DefaultConfig() Config {
	return Config{
		SessionTimeout:     10 * time.Second,
		HeartbeatInterval:  time.Second,
		ACLRecheckInterval: time.Minute,
		ReadConcurrency:    256,
		BulkSessions:       3, // with the watching session, four connections: about where reads stop scaling
		Watch:              WatchAuto,

		StageReportInterval: replicator.DefaultStageReportInterval,
	}
}

// Validate checks the config; errors wrap ErrInvalidConfig and never show Auth.
func (c Config) Validate() error {
	if c.Site == "" {
		return fmt.Errorf("%w: site is empty", ErrInvalidConfig)
	}
	if err := c.zk().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.HeartbeatInterval <= 0 {
		return fmt.Errorf("%w: heartbeat interval must be positive", ErrInvalidConfig)
	}
	if c.ACLRecheckInterval < 0 {
		return fmt.Errorf("%w: acl recheck interval must not be negative", ErrInvalidConfig)
	}
	if c.ReadConcurrency <= 0 {
		return fmt.Errorf("%w: read concurrency must be positive", ErrInvalidConfig)
	}
	if c.BulkSessions < 0 {
		return fmt.Errorf("%w: bulk sessions must not be negative", ErrInvalidConfig)
	}
	if c.SnapshotInterval < 0 {
		return fmt.Errorf("%w: snapshot interval must not be negative", ErrInvalidConfig)
	}
	if c.SnapshotEveryEvents < 0 {
		return fmt.Errorf("%w: snapshot every events must not be negative", ErrInvalidConfig)
	}
	if c.StageReportInterval < 0 {
		return fmt.Errorf("%w: stage report interval must not be negative", ErrInvalidConfig)
	}
	switch c.Watch {
	case "", WatchAuto, WatchRecursive, WatchOneShot:
	default:
		return fmt.Errorf("%w: watch must be %q, %q or %q, not %q", ErrInvalidConfig, WatchAuto, WatchRecursive, WatchOneShot, c.Watch)
	}
	if err := c.Scope.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c Config) zk() zkconn.Config {
	return zkconn.Config{Servers: c.Servers, SessionTimeout: c.SessionTimeout, Auth: c.Auth}
}

// Stats is a point-in-time view of a Source.
type Stats struct {
	EventsPublished   uint64
	IndexSize         int
	LastHeartbeatZxid int64
	LastHeartbeatTime time.Time // when the primary's heartbeat was written
	Bootstrapped      bool
	BootstrapNodes    uint64        // nodes read by the first walk
	BootstrapDuration time.Duration // how long the first walk took
	Walks             uint64        // bootstrap, re-walks after session expiry, later snapshots
	Walking           bool          // a walk is in progress
	WalkNodes         uint64        // nodes read so far by the walk in progress (or the last one)
	Snapshots         uint64        // snapshots published, the bootstrap one included
	LastSnapshot      time.Time     // when the last published snapshot ended
	SessionExpiries   uint64
	ReadRetries       uint64
	// Watch is the kind of watch in use: WatchRecursive or WatchOneShot ("" before
	// the first connection).
	Watch string
	// Stages holds the source's stages (CommitSeen, ReadAppended), cumulative
	// since it started; ReadAppended stays empty when the Publisher does not
	// time it.
	Stages replicator.StageLatency
}

// Source turns the active ensemble's tree into journal events: a fuzzy snapshot
// first, then one event per observed change, with heartbeats that bound how far
// the journal can be trusted. See doc.go for the ordering argument.
type Source struct {
	cfg   Config
	pub   Publisher
	log   hclog.Logger
	roots []string
	idx   *index

	notes notifQueue
	slots chan *slot    // reserved in the order reads are issued; published in that order
	sem   chan struct{} // bounds notification tasks in flight
	// walkMu guards walkNext, the walk requested and not yet started; walkWake
	// tells the walk loop. Requests made before a walk starts merge into it.
	walkMu   sync.Mutex
	walkNext walkRequest
	walkWake chan struct{}
	// bootDone is closed by the publish loop once the bootstrap snapshot is out.
	bootDone chan struct{}

	conn  *zk.Conn // the watching session, set by Run
	group *errgroup.Group

	hbArmed   atomic.Bool   // a watch is set on the heartbeat node and no write is outstanding
	hbWritten atomic.Int64  // unix nanos of the last heartbeat write attempt
	hbGen     atomic.Uint64 // bumped whenever the heartbeat watch is set anew
	hbRearm   atomic.Bool   // the session expired: the heartbeat watch is gone

	// snapReq wakes the snapshot loop: the request node moved, or the session
	// was renewed after an expiry and its watch must be set again.
	snapReq chan struct{}
	// changes counts change events published; snapBase is its value when the
	// last snapshot began (for SnapshotEveryEvents).
	changes, snapBase atomic.Int64

	published, retries, expiries, walkCount, snapCount, walkNodes atomic.Uint64
	walkActive                                                    atomic.Bool
	statsMu                                                       sync.Mutex
	hbZxid                                                        int64
	hbTime                                                        time.Time
	bootstrapped                                                  bool
	bootNodes                                                     uint64
	bootDur                                                       time.Duration
	lastSnap                                                      time.Time
	lastRetryLog                                                  atomic.Int64
	watchKind                                                     string

	// walkPending holds paths a walk has queued whose result is not yet published:
	// notification tasks leave them to the walk instead of reading them twice.
	pendMu      sync.Mutex
	walkPending map[string]struct{}

	// Publish-loop state, touched only by the publish loop.
	walking bool
	// namedPending holds pending paths that a listing applied meanwhile named:
	// when the walk's own read of one leaves it unknown, it is read again.
	namedPending map[string]struct{}
	// tombs maps a deleted path to the largest czxid known gone (see deletePath).
	tombs map[string]int64
	// readAt is when the reply of the read being published arrived, readNs
	// the same as unix nanoseconds (zero until the first).
	readAt time.Time
	readNs int64

	// stagePub is pub when it times read → appended; commitSeen times
	// commit → seen (see stages.go).
	stagePub   stagePublisher
	commitSeen journal.Histogram
}

// maxTombstones bounds tombs; a stale read is in flight for moments only.
const maxTombstones = 1 << 16

// New validates cfg and returns a Source; it starts nothing.
func New(cfg Config, pub Publisher) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, fmt.Errorf("%w: no publisher", ErrInvalidConfig)
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	stagePub, _ := pub.(stagePublisher)
	return &Source{
		stagePub: stagePub,
		cfg:      cfg,
		pub:      pub,
		log:      log.Named("source").With("site", cfg.Site),
		roots:    cfg.Scope.Roots(),
		idx:      newIndex(),
		notes:    notifQueue{wake: make(chan struct{}, 1)},
		slots:    make(chan *slot, 2*cfg.ReadConcurrency+256),
		sem:      make(chan struct{}, cfg.ReadConcurrency),
		walkWake: make(chan struct{}, 1),
		snapReq:  make(chan struct{}, 1),

		bootDone:    make(chan struct{}),
		walkPending: map[string]struct{}{},

		namedPending: map[string]struct{}{},
		tombs:        map[string]int64{},
	}, nil
}

// Run opens the publisher when it has an Open method, connects, bootstraps and
// follows changes until ctx ends (it returns nil) or a permanent error (a
// publish failure wraps ErrPublish; a journal that refuses this source's
// lineage is a permanent replicator.StopError). A Source runs once.
func (s *Source) Run(ctx context.Context) error {
	if o, ok := s.pub.(opener); ok {
		if err := o.Open(ctx); err != nil {
			return publishFailed("open", err)
		}
	}
	if s.cfg.Watch == WatchOneShot {
		return s.runOneShot(ctx)
	}
	err := s.newWatcher().run(ctx)
	if errors.Is(err, ErrNoRecursiveWatch) && s.cfg.Watch != WatchRecursive {
		s.log.Warn("falling back to one-shot watches: a watch per znode, slower under bursts and more memory", "error", err)
		return s.runOneShot(ctx)
	}
	return err
}

// runOneShot runs the source on one-shot watches (two per znode).
func (s *Source) runOneShot(ctx context.Context) error {
	s.setWatchKind(WatchOneShot)
	conn, err := zkconn.Dial(ctx, s.cfg.zk(), s.log.Named("zk"), zkconn.WithEventCallback(s.notes.push))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.conn = conn
	g, gctx := errgroup.WithContext(ctx)
	s.group = g
	g.Go(func() error {
		<-gctx.Done()
		conn.Close() // unblocks every read in flight
		return nil
	})
	s.requestWalk(walkRequest{snapshot: true, rewatch: true}) // the bootstrap
	g.Go(func() error { return s.publishLoop(gctx) })
	g.Go(func() error { return s.dispatchLoop(gctx) })
	g.Go(func() error { return s.walkLoop(gctx) })
	g.Go(func() error { return s.heartbeatLoop(gctx) })
	g.Go(func() error { return s.aclRecheckLoop(gctx) })
	g.Go(func() error { return s.snapshotLoop(gctx) })
	g.Go(func() error {
		if err := s.waitBootstrapped(gctx); err != nil {
			return nil
		}
		return s.stageReporter(func(_ context.Context, data []byte) error { return replicator.WriteStages(conn, data) }).Run(gctx)
	})
	err = g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, zk.ErrConnectionClosed)) {
		return nil
	}
	return err
}

func (s *Source) setWatchKind(k string) {
	s.statsMu.Lock()
	s.watchKind = k
	s.statsMu.Unlock()
}

// Stats returns counters and the last watermark.
func (s *Source) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return Stats{
		EventsPublished:   s.published.Load(),
		IndexSize:         s.idx.len(),
		LastHeartbeatZxid: s.hbZxid,
		LastHeartbeatTime: s.hbTime,
		Bootstrapped:      s.bootstrapped,
		BootstrapNodes:    s.bootNodes,
		BootstrapDuration: s.bootDur,
		Walks:             s.walkCount.Load(),
		Walking:           s.walkActive.Load(),
		WalkNodes:         s.walkNodes.Load(),
		Snapshots:         s.snapCount.Load(),
		LastSnapshot:      s.lastSnap,
		SessionExpiries:   s.expiries.Load(),
		ReadRetries:       s.retries.Load(),
		Watch:             s.watchKind,
		Stages:            s.stages(),
	}
}

// stages reads the source's stage histograms.
func (s *Source) stages() replicator.StageLatency {
	st := replicator.StageLatency{CommitSeen: s.commitSeen.Snapshot()}
	if s.stagePub != nil {
		st.ReadAppended = s.stagePub.ReadAppended()
	}
	return st
}

// seen stamps the read whose results the publish loop handles next: its
// reply arrived at t.
func (s *Source) seen(t time.Time) {
	s.readAt, s.readNs = t, t.UnixNano()
}

// stageReporter writes the source's stage report with write.
func (s *Source) stageReporter(write func(ctx context.Context, data []byte) error) replicator.StageReporter {
	return replicator.StageReporter{Site: s.cfg.Site, Role: "source", Every: s.cfg.StageReportInterval, Stages: replicator.SourceStages,
		Snap: s.stages, Write: write, Log: s.log}
}

func (s *Source) setPending(paths ...string) {
	s.pendMu.Lock()
	for _, p := range paths {
		s.walkPending[p] = struct{}{}
	}
	s.pendMu.Unlock()
}

func (s *Source) clearPending(p string) {
	s.pendMu.Lock()
	delete(s.walkPending, p)
	s.pendMu.Unlock()
}

func (s *Source) isPending(p string) bool {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	_, ok := s.walkPending[p]
	return ok
}
