package replicator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// ApplierStats is a snapshot of what the applier has done.
type ApplierStats struct {
	Stream        string
	AppliedSeq    uint64 // last journal sequence applied (the checkpoint's)
	Epoch         uint64
	WatermarkZxid int64
	WatermarkTime time.Time // primary time of the last heartbeat applied
	EventsApplied uint64    // events applied by this process
	Batches       uint64    // Multis that carried a checkpoint
	Redone        uint64    // batches planned again after the standby refused them
	OpByOp        uint64    // messages applied op by op as a last resort
	OutOfOrder    uint64    // pipelined Multis that overtook the one before them and were sent again
	StaleSkipped  uint64    // events skipped for an epoch below ApplierConfig.MinEpoch
	Replicated    int       // replicated nodes on the standby
	Guard         *GuardState
	GuardPauses   uint64 // times the delete guard paused this process
	// Resync is set while the standby resyncs after a retention gap; State
	// then says "resyncing after retention gap at seq N".
	Resync            *ResyncState
	ResyncSkipped     uint64    // messages skipped while waiting for the resync snapshot
	SnapshotRequested time.Time // when this process last asked the active site for a snapshot
	State             string    // "applying" or the resync state
	LastError         string
	// Stages holds the applier's stages (AppendedDelivered,
	// DeliveredApplied), cumulative since this Applier was made.
	Stages StageLatency
}

// Applier writes one journal stream into the standby ensemble. See doc.go.
type Applier struct {
	cfg ApplierConfig
	log hclog.Logger
	m   zkpath.Mapper

	mu           sync.Mutex // guards stats and requestedFor
	stats        ApplierStats
	requestedFor uint64                      // the gap a snapshot was asked for by this process
	bo           *backoff.ExponentialBackOff // Run's retry; reset after progress

	// Stage timing (see stages.go), observed by the run's loop.
	appendedDelivered, deliveredApplied journal.Histogram
}

// NewApplier validates cfg; it starts nothing.
func NewApplier(cfg ApplierConfig) (*Applier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Applier{
		cfg:   cfg,
		log:   cfg.Logger.Named("applier").With("stream", cfg.Stream),
		m:     zkpath.Mapper{Scope: cfg.Scope, Maps: cfg.Mapping},
		stats: ApplierStats{Stream: cfg.Stream},
	}, nil
}

// Stats returns a copy of the current figures.
func (a *Applier) Stats() ApplierStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	if s.Guard != nil {
		g := *s.Guard
		s.Guard = &g
	}
	if s.Resync != nil {
		r := *s.Resync
		s.Resync = &r
	}
	s.Stages = a.stages()
	return s
}

// stages reads the applier's stage histograms.
func (a *Applier) stages() StageLatency {
	return StageLatency{AppendedDelivered: a.appendedDelivered.Snapshot(), DeliveredApplied: a.deliveredApplied.Snapshot()}
}

func (a *Applier) setGuard(g *GuardState) {
	a.mu.Lock()
	a.stats.Guard = g
	a.mu.Unlock()
}

// Run applies until ctx ends (nil) or a permanent error: an undecodable message
// (ErrPoisonMessage), another applier took over (ErrApplierFenced), an older
// epoch (ErrEventEpoch), a standby that refuses TTL nodes
// (ErrExtendedTypesDisabled). Lost connections and sessions are retried with
// backoff, each time from the checkpoint. A retention gap is not an end: the
// applier records it in the checkpoint and resyncs from a fresh snapshot (see
// enterResync).
func (a *Applier) Run(ctx context.Context) error {
	a.bo = backoff.NewExponentialBackOff()
	a.bo.InitialInterval = 200 * time.Millisecond
	a.bo.MaxInterval = 15 * time.Second
	a.bo.MaxElapsedTime = 0
	var lastLog time.Time
	op := func() error {
		for {
			// A gap just recorded starts the pass again at once, reading for the snapshot.
			if err := a.runOnce(ctx); !errors.Is(err, errResync) {
				return err
			}
		}
	}
	err := backoff.RetryNotify(op, backoff.WithContext(a.bo, ctx),
		func(err error, wait time.Duration) {
			a.mu.Lock()
			a.stats.LastError = err.Error()
			a.mu.Unlock()
			if time.Since(lastLog) > 10*time.Second {
				lastLog = time.Now()
				a.log.Warn("applier failed, starting again from the checkpoint", "error", err, "wait", wait)
			}
		})
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		return nil
	}
	a.mu.Lock()
	a.stats.LastError = err.Error()
	next := a.stats.AppliedSeq + 1
	a.mu.Unlock()
	// Everything else was retried above: this needs an operator.
	return &StopError{Component: "applier", Op: "apply", Seq: next, Permanent: true, Err: err}
}

type fetchResult struct {
	msgs []journal.Message
	err  error
}

// run is the state of one connected pass of the applier.
type run struct {
	a         *Applier
	conn      *zk.Conn
	reads     *zkconn.ReadPool // conn and the bulk read sessions
	owner     int32            // the fencing token this run claimed (zkpath.Owner's version)
	tree      *standbyTree
	pl        *planner
	committed Checkpoint // what /zkdr/applied holds, with its version
	snapAt    *snapState // the planner's open snapshot as of committed
	failures  int        // consecutive refused batches at committed.Seq
	startSeq  uint64     // where the reader started (0: the first message held)
	readTo    uint64     // the last sequence the reader delivered
	resync    bool       // a resync was under way when this pass last checked
	// staleReported is how many of the planner's skipped stale events were
	// logged and counted.
	staleReported uint64
	// inflight are the checkpointed Multis sent and not answered yet, oldest
	// first (see send); calling is closed when the last sender calls Multi.
	inflight []*inflight
	calling  chan struct{}
	senders  *sync.WaitGroup
	// heldSeq is the first message held for its delete window since heldAt
	// (see guard_window.go); 0 when none is held. heldLen messages were
	// pending when the last of them came, at heldQuiet.
	heldSeq   uint64
	heldAt    time.Time
	heldLen   int
	heldQuiet time.Time
	// judgedThrough is the last message whose groups of deletes the guard
	// has judged (see judge); released is the version of the guard node an
	// operator released, deleted by the next Multi.
	judgedThrough uint64
	released      *int32
}

func (a *Applier) runOnce(ctx context.Context) error {
	conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: a.cfg.Servers, SessionTimeout: a.cfg.SessionTimeout, Auth: a.cfg.Auth}, a.log.Named("zk"))
	if err != nil {
		return err
	}
	// The senders of pipelined Multis end once the connection is closed.
	var senders sync.WaitGroup
	defer senders.Wait()
	defer conn.Close()
	// Claim before reading the checkpoint: a Multi of the applier claimed
	// from fails after this, so the checkpoint read next stays put.
	owner, err := claimOwner(conn)
	if err != nil {
		return err
	}
	cp, err := loadCheckpoint(ctx, conn, a.cfg.Stream)
	if err != nil {
		if errors.Is(err, ErrBadCheckpoint) {
			return backoff.Permanent(err)
		}
		return err
	}
	reads, err := zkconn.DialReadPool(ctx, conn, a.cfg.BulkSessions, zkconn.Config{Servers: a.cfg.Servers, SessionTimeout: a.cfg.SessionTimeout, Auth: a.cfg.Auth}, a.log.Named("zk-bulk"))
	if err != nil {
		return err
	}
	defer reads.Close()
	tree := newStandbyTree(a.m)
	start := time.Now()
	if err := tree.load(ctx, reads, a.cfg.WalkConcurrency); err != nil {
		return err
	}
	a.log.Info("indexed the standby", "replicated-nodes", tree.count, "took", time.Since(start).Round(time.Millisecond),
		"journal-seq", cp.Seq, "epoch", cp.Epoch)
	r := &run{a: a, conn: conn, reads: reads, owner: owner, tree: tree, committed: cp, resync: cp.Resync != nil, senders: &senders,
		pl: &planner{tree: tree, m: a.m, conn: conn, reads: reads, cp: cp.clone(), minEpoch: a.cfg.MinEpoch,
			guard: guardRule{share: a.cfg.DeleteGuardShare, minNodes: a.cfg.DeleteGuardMinNodes, window: a.cfg.DeleteGuardWindow}}}
	if len(cp.PadDebt) > 0 {
		// A crash came between a checkpoint and the padding it recorded.
		if err := r.payPads(r.pl.padOpsFor(cp.PadDebt)); err != nil {
			return err
		}
	}
	r.publish(0, 0)

	startSeq := cp.Seq + 1
	switch {
	case cp.resyncing():
		// Everything before the next snapshot-begin is skipped, so read from
		// the first message the journal still holds.
		startSeq = 0
		a.log.Warn("resyncing after a retention gap: nothing is applied before a snapshot begins",
			"gap-at", cp.Resync.GapAt, "since", cp.Resync.Since, "journal-seq", cp.Seq)
	case cp.Snapshot != nil:
		// Read the open snapshot again from its begin to learn what it mentioned.
		startSeq = cp.Snapshot.BeginSeq
	}
	r.startSeq = startSeq
	reader, err := a.cfg.OpenReader(ctx, startSeq)
	if err != nil {
		return r.fetchFailed(ctx, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	if cp.resyncing() {
		a.mu.Lock()
		asked := a.requestedFor == cp.Resync.GapAt
		a.mu.Unlock()
		if !asked && a.cfg.RequestSnapshot != nil {
			gap := cp.Resync.GapAt
			g.Go(func() error { return a.requestSnapshot(gctx, gap) })
		}
	}
	fetched := make(chan fetchResult, 4)
	g.Go(func() error {
		defer func() { _ = reader.Close() }()
		// Until a message with a snapshot-begin arrives, a resyncing pass
		// skips what it reads; an undecodable message there is not needed.
		skipping := cp.resyncing()
		for {
			msgs, err := reader.Fetch(gctx, a.cfg.FetchMax)
			for i := 0; skipping && i < len(msgs); i++ {
				skipping = !hasSnapshotBegin(msgs[i])
			}
			var de *journal.DecodeError
			if errors.As(err, &de) && (cp.skipped(de.Seq) || skipping) {
				if skipping {
					a.log.Warn("undecodable journal message while waiting for the resync snapshot; not needed, reading on",
						"journal-seq", de.Seq, "error", err)
				}
				// Skipped by an operator and met again while re-reading an
				// open snapshot, or before the resync snapshot.
				_ = reader.Close()
				if reader, err = a.cfg.OpenReader(gctx, de.Seq+1); err == nil {
					continue
				}
			}
			if gctx.Err() != nil {
				return nil
			}
			select {
			case fetched <- fetchResult{msgs, err}:
			case <-gctx.Done():
				return nil
			}
			if err != nil {
				return nil
			}
		}
	})
	g.Go(func() error { return r.loop(gctx, fetched) })
	// The stage reports are waited for with the senders: a write stuck on a
	// lost connection ends when it is closed, and holds up nothing before.
	reporter := stageReporter{site: a.cfg.Site, role: "applier", every: a.cfg.StageReportInterval, stages: ApplierStages,
		snap: a.stages, write: func(_ context.Context, data []byte) error { return writeStagesZK(conn, data) }, log: a.log}
	senders.Add(1)
	go func() {
		defer senders.Done()
		_ = reporter.run(gctx)
	}()
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// fetchFailed turns a reader error into the applier's: poison is permanent, a
// gap starts a resync, the rest is retried.
func (r *run) fetchFailed(ctx context.Context, err error) error {
	a := r.a
	var de *journal.DecodeError
	switch {
	case errors.As(err, &de):
		a.log.Error("undecodable journal message; skip it with `zkdr journal skip --seq N` once understood", "journal-seq", de.Seq, "error", err)
		return backoff.Permanent(fmt.Errorf("%w: stream %s sequence %d: %w", ErrPoisonMessage, a.cfg.Stream, de.Seq, err))
	case errors.Is(err, journal.ErrRetentionGap):
		missing := r.startSeq
		if r.readTo > 0 {
			missing = r.readTo + 1
		}
		return r.enterResync(ctx, missing, err)
	default:
		return fmt.Errorf("read journal: %w", err)
	}
}

// errResync ends a pass that has just recorded a retention gap; Run starts the
// next pass at once.
var errResync = errors.New("replicator: resync started")

// enterResync records a retention gap at sequence missing in the checkpoint
// (version-checked like every checkpoint write) and ends the pass. The next
// pass reads from the first message held, skips everything before the first
// snapshot-begin, and asks the active site for that snapshot. Its snapshot-end
// deletes whatever the gap hid a delete of, and clears the state. Skipping
// silently would leave the standby with changes missing and a watermark that
// claims otherwise.
func (r *run) enterResync(ctx context.Context, missing uint64, cause error) error {
	a := r.a
	if r.committed.resyncing() {
		// Still waiting for the snapshot, and retention moved on under the
		// reader: read again from the new first message.
		return fmt.Errorf("%w: stream %s, while resyncing after the gap at sequence %d: %w",
			ErrJournalGap, a.cfg.Stream, r.committed.Resync.GapAt, cause)
	}
	first := a.firstAvailable(ctx)
	gapErr := fmt.Errorf("%w: stream %s no longer holds sequence %d (first available %d): %w",
		ErrJournalGap, a.cfg.Stream, missing, first, cause)
	a.log.Error("journal no longer holds the next sequence; resyncing the standby from a fresh snapshot, nothing after the gap is applied before that snapshot begins",
		"missing-seq", missing, "first-available", first, "applied-seq", r.committed.Seq, "error", cause)
	next := r.committed.clone()
	next.Resync = &ResyncState{GapAt: missing, FirstAvailable: first, Since: time.Now().UTC()}
	// An open snapshot cannot end well: its mentions after the gap are lost,
	// and its end would delete nodes it did mention.
	next.Snapshot = nil
	st, err := r.conn.Set(zkpath.Checkpoint, next.encode(), r.committed.Version)
	if errors.Is(err, zk.ErrBadVersion) {
		return backoff.Permanent(fmt.Errorf("%w: %s moved while recording a retention gap", ErrApplierFenced, zkpath.Checkpoint))
	}
	if err != nil {
		return fmt.Errorf("record retention gap in checkpoint: %w", err)
	}
	r.committed = next
	r.committed.Version = st.Version
	r.resync = true
	r.publish(0, 0)
	a.mu.Lock()
	a.stats.LastError = gapErr.Error()
	a.mu.Unlock()
	return errResync
}

// firstAvailable asks the journal for its first sequence; 0 when it cannot tell.
func (a *Applier) firstAvailable(ctx context.Context) uint64 {
	rd, err := a.cfg.OpenReader(ctx, 0)
	if err != nil {
		return 0
	}
	defer func() { _ = rd.Close() }()
	br, ok := rd.(boundedReader)
	if !ok {
		return 0
	}
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	first, _, err := br.Bounds(bctx)
	if err != nil {
		return 0
	}
	return first
}

// requestSnapshot asks the active site for the resync snapshot of the gap at
// sequence gap, once per gap in this process.
func (a *Applier) requestSnapshot(ctx context.Context, gap uint64) error {
	reason := fmt.Sprintf("site %s: retention gap in %s at sequence %d", a.cfg.Site, a.cfg.Stream, gap)
	a.log.Info("asking the active site for a snapshot", "gap-at", gap)
	if err := a.cfg.RequestSnapshot(ctx, reason); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("request a snapshot from the active site: %w", err)
	}
	a.mu.Lock()
	a.requestedFor = gap
	a.stats.SnapshotRequested = time.Now()
	a.mu.Unlock()
	a.log.Info("asked the active site for a snapshot", "gap-at", gap)
	return nil
}

func hasSnapshotBegin(m journal.Message) bool {
	for i := range m.Events {
		if m.Events[i].Kind == journal.KindSnapshotBegin {
			return true
		}
	}
	return false
}

// loop applies what the fetcher delivers. It never waits for more messages than
// are already there: whatever arrived is applied at once, so the batching adds
// no latency when the journal is quiet and batches fill up when it is busy.
// Meanwhile it takes the standby's answers to the Multis in flight.
func (r *run) loop(ctx context.Context, fetched <-chan fetchResult) error {
	var pending []journal.Message // not yet planned, in order
	var fetchErr error
	take := func(res fetchResult) {
		pending = append(pending, res.msgs...)
		fetchErr = res.err
		r.delivered(res.msgs)
	}
	for {
		var back []journal.Message
		var err error
		if fetchErr == nil && (len(pending) == 0 || r.windowCut(pending, false) == 0) {
			var held <-chan time.Time
			var t *time.Timer
			if len(pending) > 0 {
				t = time.NewTimer(r.holdLeft())
				held = t.C
			}
			select {
			case <-ctx.Done():
				return nil
			case res := <-fetched:
				take(res)
			case res := <-r.headDone():
				back, err = r.landed(ctx, res)
			case <-held:
			}
			if t != nil {
				t.Stop()
			}
		}
	drain:
		for fetchErr == nil && len(pending) < 4*r.a.cfg.FetchMax {
			select {
			case res := <-fetched:
				take(res)
			default:
				break drain
			}
		}
		if err == nil {
			back, err = r.reap(ctx, false)
		}
		if fetchErr != nil && len(pending) == 0 && err == nil && len(back) == 0 {
			// The last messages before the error are in flight: their
			// outcome decides where a resync or a poison stop is recorded.
			back, err = r.reap(ctx, true)
		}
		pending = append(back, pending...)
		if err != nil {
			if err = r.settleRefusal(ctx, err); err != nil {
				return err
			}
		}
		cut := r.windowCut(pending, fetchErr != nil)
		rest := pending[cut:]
		pending, err = r.applyPending(ctx, pending[:cut:cut])
		pending = append(pending, rest...)
		if err != nil {
			return err
		}
		if fetchErr != nil && len(pending) == 0 && len(r.inflight) == 0 {
			return r.fetchFailed(ctx, fetchErr)
		}
	}
}

// delivered takes note of messages the reader handed over and times
// appended → delivered for those not applied yet: from the active site's
// store time, which the mirror keeps, to the reader taking them.
func (r *run) delivered(msgs []journal.Message) {
	if n := len(msgs); n > 0 {
		r.readTo = msgs[n-1].Seq
	}
	for i := range msgs {
		if m := &msgs[i]; m.Seq > r.committed.Seq && !m.Published.IsZero() && !m.Delivered.IsZero() {
			r.a.appendedDelivered.Observe(m.Delivered.Sub(m.Published))
		}
	}
}

// batch is consecutive simple messages sharing one Multi.
type batch struct {
	plans []*msgPlan
	ops   []any
	bytes int
}

func (b *batch) empty() bool { return len(b.plans) == 0 }

func (b *batch) add(mp *msgPlan) {
	b.plans = append(b.plans, mp)
	for _, s := range mp.steps {
		b.ops = append(b.ops, s.ops...)
		b.bytes += s.bytes
	}
}

// reserve is room kept in every Multi for the owner check, the checkpoint and
// a guard delete.
const reserveOps, reserveBytes = 3, 8 << 10

func (r *run) fits(b *batch, mp *msgPlan) bool {
	ops, bytes := mp.size()
	return len(b.ops)+ops+reserveOps <= r.a.cfg.MaxBatchOps && b.bytes+bytes+reserveBytes <= r.a.cfg.MaxBatchBytes
}

// applyPending plans and sends pending in order and returns what is left
// (nothing, unless ctx ended or the applier must stop). Messages whose Multi
// the standby refused come back and are planned again.
func (r *run) applyPending(ctx context.Context, pending []journal.Message) ([]journal.Message, error) {
	for len(pending) > 0 {
		var err error
		pending, err = r.applySome(ctx, pending)
		if err == nil {
			continue
		}
		if err := r.settleRefusal(ctx, err); err != nil {
			return pending, err
		}
	}
	return pending, nil
}

// settleRefusal recovers from a refusal (see recover) and passes any other
// error on.
func (r *run) settleRefusal(ctx context.Context, err error) error {
	var refused *refusedError
	if !errors.As(err, &refused) {
		return err
	}
	return r.recover(ctx, refused)
}

// applySome plans messages from the head of pending and sends them in
// checkpointed Multis, up to MaxInFlight unanswered at a time; it returns the
// messages not yet planned (none unless it failed). When the standby refused a
// Multi in flight, the plans of every Multi after the last one applied are taken
// back and their messages come back at the head of the result.
func (r *run) applySome(ctx context.Context, pending []journal.Message) ([]journal.Message, error) {
	if err := r.pl.prefetchACLs(ctx, pending, r.committed.Seq, r.a.cfg.WalkConcurrency); err != nil {
		return pending, err
	}
	var b batch
	from := 0 // pending[from:i] is planned into b, or consumed after it
	// consumed hands a message that needs no Multi (skipped, or read again for
	// an open snapshot's mentions) to what precedes it, so it is planned again
	// with it if that is refused.
	consumed := func(i int) {
		if !b.empty() {
			return
		}
		if n := len(r.inflight); n > 0 {
			r.inflight[n-1].msgs = append(r.inflight[n-1].msgs, pending[i])
		}
		from = i + 1
	}
	for i := 0; i < len(pending); {
		if err := ctx.Err(); err != nil {
			return pending[from:], err
		}
		msg := pending[i]
		if r.pl.cp.resyncing() && !hasSnapshotBegin(msg) {
			// Waiting for the resync snapshot: this message's changes come
			// again in it, and its heartbeats would claim what the standby
			// does not hold.
			consumed(i)
			i++
			r.a.mu.Lock()
			r.a.stats.ResyncSkipped++
			r.a.mu.Unlock()
			continue
		}
		if msg.Seq <= r.committed.Seq {
			if _, err := r.pl.plan(msg, true); err != nil {
				return pending[from:], backoff.Permanent(err)
			}
			consumed(i)
			i++
			r.snapAt = r.pl.snap
			continue
		}
		if r.pl.guard.share < 1 && deletes(msg) && msg.Seq > r.judgedThrough { // at 1 the guard never trips
			v, err := r.judge(pending[i:])
			if err != nil {
				return pending[from:], err
			}
			if v != nil {
				// Everything before the group is applied; the group waits.
				if !b.empty() {
					if back, err := r.commitBatch(ctx, &b, pending[from:i]); err != nil {
						return append(back, pending[from:]...), err
					}
					from = i
					b = batch{}
				}
				if back, err := r.reapAll(ctx); err != nil {
					return append(back, pending[from:]...), err
				}
				if err := r.hold(ctx, msg, v); err != nil {
					return pending[from:], err
				}
			}
		}
		mark, saved := r.tree.mark(), r.pl.save()
		mp, err := r.pl.plan(msg, false)
		if err != nil {
			// Apply what precedes the bad message, then stop on it.
			r.tree.rollback(mark)
			r.pl.restore(saved)
			if !b.empty() {
				if back, cerr := r.commitBatch(ctx, &b, pending[from:i]); cerr != nil {
					return append(back, pending[from:]...), cerr
				}
				from = i
			}
			if back, derr := r.reapAll(ctx); derr != nil {
				return append(back, pending[from:]...), derr
			}
			return pending[from:], backoff.Permanent(err)
		}
		if !b.empty() && (!mp.simple() || !r.fits(&b, mp)) {
			// Take the plan back, send what is batched, plan it again after.
			r.tree.rollback(mark)
			r.pl.restore(saved)
			if back, err := r.commitBatch(ctx, &b, pending[from:i]); err != nil {
				return append(back, pending[from:]...), err
			}
			from = i
			b = batch{}
			continue
		}
		if mp.simple() && r.fits(&b, mp) && r.failures < 2 {
			b.add(mp)
			i++
			continue
		}
		// Changes outside a Multi, or op by op: they need the standby as
		// every Multi before them left it.
		if back, err := r.reapAll(ctx); err != nil {
			return append(back, pending[from:]...), err
		}
		if r.failures >= 2 {
			err = r.applyOpByOp(ctx, mp)
		} else {
			err = r.applyDirect(ctx, mp)
		}
		if err != nil {
			return pending[from:], err
		}
		i++
		from = i
	}
	if !b.empty() {
		if back, err := r.commitBatch(ctx, &b, pending[from:]); err != nil {
			return append(back, pending[from:]...), err
		}
	}
	return nil, nil
}

// refusedError is a Multi or a direct change the standby refused: the tree was
// stale (someone else wrote to the standby, a container or TTL node was reaped)
// or another applier moved the checkpoint. outOfOrder marks a pipelined Multi
// refused only by its checkpoint's version check, its data ops all valid: it
// reached the standby before the Multi it was sent after.
type refusedError struct {
	err        error
	op         int // index of the refused op; -1 when not known
	outOfOrder bool
}

func (e *refusedError) Error() string { return "standby refused the batch: " + e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// isRefusal tells an answer about the ops (the tree was wrong) from a lost
// connection or session, after which the outcome is unknown and the applier
// starts over from the checkpoint.
func isRefusal(err error) bool {
	for _, e := range []error{zk.ErrNodeExists, zk.ErrNoNode, zk.ErrNotEmpty, zk.ErrBadVersion, zk.ErrNoChildrenForEphemerals} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// multi runs ops; a refusal becomes a *refusedError. It is safe to call from
// several goroutines (pipelined Multis).
func (r *run) multi(ops []any) ([]zk.MultiResponse, error) {
	resp, err := r.conn.Multi(ops...)
	if err == nil {
		return resp, nil
	}
	if len(resp) == len(ops) || isRefusal(err) {
		for i, res := range resp {
			if res.Error != nil && isRefusal(res.Error) {
				return nil, &refusedError{err: fmt.Errorf("op %d of %d (%s): %w", i+1, len(ops), opPath(ops[i]), res.Error), op: i}
			}
		}
		if isRefusal(err) {
			return nil, &refusedError{err: err, op: -1}
		}
	}
	if isUnimplemented(err) {
		return nil, backoff.Permanent(fmt.Errorf("%w: %w", ErrApply, err))
	}
	return nil, fmt.Errorf("multi of %d ops: %w", len(ops), err)
}

func opPath(op any) string {
	switch o := op.(type) {
	case *zk.CreateRequest:
		return "create " + o.Path
	case *zk.SetDataRequest:
		return "set " + o.Path
	case *zk.DeleteRequest:
		return "delete " + o.Path
	case *zk.CheckVersionRequest:
		return "check " + o.Path
	}
	return fmt.Sprintf("%T", op)
}

// finalOps appends to ops what ends a checkpointed Multi that is not
// pipelined: the guard node's delete (when an operator released the deletes
// this Multi applies first) and the checkpoint write. The caller clears
// r.released once the Multi is applied.
func (r *run) finalOps(ops []any, cp Checkpoint) []any {
	if r.released != nil {
		ops = append(ops, &zk.DeleteRequest{Path: zkpath.Guard, Version: *r.released})
	}
	cp.Version = r.committed.Version
	return r.sealOps(ops, cp)
}

// sealOps appends what every checkpointed Multi ends with: the check that this
// run still owns the standby, then the checkpoint write from cp.Version. The
// checkpoint write stays last (its answer carries the new version).
func (r *run) sealOps(ops []any, cp Checkpoint) []any {
	return append(ops[:len(ops):len(ops)], &zk.CheckVersionRequest{Path: zkpath.Owner, Version: r.owner}, checkpointOp(cp))
}

// commitBatch applies a batch in one Multi that ends with the checkpoint; msgs
// are its messages (and any consumed among them). A plain batch is sent
// without waiting for the Multis before it (see send). One that trips the
// delete guard, or whose padding needs Multis of its own, waits until every
// Multi before it is answered and is applied on its own. On an error it
// returns the messages of refused Multis sent before it, to plan again.
func (r *run) commitBatch(ctx context.Context, b *batch, msgs []journal.Message) ([]journal.Message, error) {
	last := b.plans[len(b.plans)-1]
	targets := padTargets{}
	for _, mp := range b.plans {
		for p, t := range mp.targets {
			raiseTarget(targets, p, t)
		}
	}
	cp := last.cp.clone()
	pad := r.pl.padOpsFor(targets)
	ops := b.ops
	var debt []any
	if len(ops)+len(pad)+reserveOps <= r.a.cfg.MaxBatchOps {
		ops = append(ops[:len(ops):len(ops)], pad...)
	} else {
		// Too many pairs to share this Multi: the checkpoint records them as a
		// debt, paid right after it (and at start after a crash); the next
		// checkpoint clears it.
		debt = pad
		cp.PadDebt = targets
	}
	if debt == nil && r.released == nil {
		return r.send(ctx, ops, cp, b.plans, msgs)
	}
	if back, err := r.reapAll(ctx); err != nil {
		return back, err
	}
	resp, err := r.multi(r.finalOps(ops, cp))
	if err != nil {
		return nil, err
	}
	r.released = nil
	r.committed = cp
	r.committed.Version = resp[len(resp)-1].Stat.Version
	r.tree.commit()
	if err := r.payPads(debt); err != nil {
		return nil, err
	}
	r.afterCommit(b.plans)
	return nil, nil
}

// inflight is a checkpointed Multi sent to the standby and not answered yet.
type inflight struct {
	msgs  []journal.Message // its messages, planned again if it is refused
	plans []*msgPlan
	cp    Checkpoint // what it writes; Version is the version it expects
	snap  *snapState // the planner's open snapshot once it is applied
	mark  int        // the tree's undo log at its end
	nops  int
	done  chan multiResult // buffered: the sender never blocks
}

type multiResult struct {
	f    *inflight
	resp []zk.MultiResponse
	err  error
}

// send sends a plain batch without waiting for the answers to the Multis sent
// before it (pipelining), once fewer than MaxInFlight are unanswered.
//
// Exactly-once holds as with one Multi at a time: ZooKeeper runs one session's
// requests in the order they were sent, and each Multi ends with the
// checkpoint write checked against the version the Multi before it leaves
// (v, v+1, ...). If one is refused, every later one fails its version check
// too (another applier writing the checkpoint meanwhile could make a later one
// match, which is why every Multi also checks the owner's token, see
// zkpath.Owner), so the applied Multis are always a prefix of those sent: the applier
// takes back the plans of the rest and plans their messages again from the
// last checkpoint applied (see abort). The tree the planner works on already
// holds the changes of the Multis in flight, which is what the standby will
// hold when this one runs.
func (r *run) send(ctx context.Context, ops []any, cp Checkpoint, plans []*msgPlan, msgs []journal.Message) ([]journal.Message, error) {
	for len(r.inflight) >= r.a.cfg.MaxInFlight {
		if back, err := r.reap(ctx, true); err != nil {
			return back, err
		}
	}
	cp.Version = r.committed.Version + int32(len(r.inflight))
	ops = r.sealOps(ops, cp)
	f := &inflight{msgs: msgs, plans: plans, cp: cp, snap: r.pl.snap, mark: r.tree.mark(), nops: len(ops),
		done: make(chan multiResult, 1)}
	r.inflight = append(r.inflight, f)
	// go-zookeeper queues a request when Multi is called; each sender waits
	// until the one before it is calling, so they queue in order all but
	// always. A Multi that still overtakes the one before it fails its version
	// check, and is sent again (see abort).
	prev, calling := r.calling, make(chan struct{})
	r.calling = calling
	r.senders.Add(1)
	go func() {
		defer r.senders.Done()
		if prev != nil {
			<-prev
		}
		close(calling)
		resp, err := r.multi(ops)
		f.done <- multiResult{f: f, resp: resp, err: err}
	}()
	return nil, nil
}

// headDone is the answer channel of the oldest Multi in flight; nil (never
// ready) when there is none.
func (r *run) headDone() <-chan multiResult {
	if len(r.inflight) == 0 {
		return nil
	}
	return r.inflight[0].done
}

// reap takes the answers that are in: with wait, at least the oldest Multi's.
// On a failure it returns the messages to plan again (see abort).
func (r *run) reap(ctx context.Context, wait bool) ([]journal.Message, error) {
	for len(r.inflight) > 0 {
		var res multiResult
		select {
		case res = <-r.inflight[0].done:
		default:
			if !wait {
				return nil, nil
			}
			select {
			case res = <-r.inflight[0].done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wait = false
		if back, err := r.landed(ctx, res); err != nil {
			return back, err
		}
	}
	return nil, nil
}

// reapAll waits for every Multi in flight.
func (r *run) reapAll(ctx context.Context) ([]journal.Message, error) {
	for len(r.inflight) > 0 {
		if back, err := r.reap(ctx, true); err != nil {
			return back, err
		}
	}
	return nil, nil
}

// landed takes the answer to the oldest Multi in flight.
func (r *run) landed(ctx context.Context, res multiResult) ([]journal.Message, error) {
	if res.err != nil {
		return r.abort(ctx, res)
	}
	f := res.f
	r.inflight = r.inflight[1:]
	r.committed = f.cp
	r.committed.Version = res.resp[len(res.resp)-1].Stat.Version
	r.tree.commitTo(f.mark)
	for _, g := range r.inflight {
		g.mark -= f.mark
	}
	r.snapAt = f.snap
	r.settled(f.plans)
	return nil, nil
}

// abort handles a refused or failed Multi in flight: it waits for the answers
// to every later one (they cannot have applied: each expects a checkpoint
// version the failed one never wrote), takes back the plans of all of them and
// of anything planned since, and returns their messages in order. The tree and
// the planner are back where the last applied checkpoint left them.
func (r *run) abort(ctx context.Context, first multiResult) ([]journal.Message, error) {
	failed := r.inflight
	r.inflight, r.calling = nil, nil
	var back []journal.Message
	for i, f := range failed {
		res := first
		if i > 0 {
			select {
			case res = <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if res.err == nil {
			// Only possible if something else wrote the checkpoint meanwhile:
			// start the pass again from what the standby holds.
			return nil, fmt.Errorf("a pipelined batch applied after an earlier one failed (journal sequence %d): %w", f.cp.Seq, first.err)
		}
		back = append(back, f.msgs...)
	}
	r.tree.rollback(0)
	r.pl.cp = r.committed.clone()
	r.pl.snap = r.snapAt
	var refused *refusedError
	if errors.As(first.err, &refused) && refused.op == first.f.nops-1 && errors.Is(refused.err, zk.ErrBadVersion) {
		refused.outOfOrder = true
	}
	return back, first.err
}

// payPads runs pad pairs in Multis of their own. Padding only ever raises a
// counter, so running them again after a crash is harmless.
func (r *run) payPads(ops []any) error {
	for len(ops) > 0 {
		n := min(len(ops), (r.a.cfg.MaxBatchOps-reserveOps)&^1)
		if _, err := r.multi(ops[:n]); err != nil {
			return err
		}
		ops = ops[n:]
	}
	r.tree.commit()
	return nil
}

// applyDirect applies a message that needs changes outside a Multi or more than
// one Multi. Its steps run in order; the last Multi carries the checkpoint. A
// crash in between re-applies the message from its start, which converges to
// the same tree because every step is a state assertion: creates that meet
// their node become updates, deletes of missing nodes do nothing, a partly
// deleted subtree is deleted the rest of the way.
func (r *run) applyDirect(ctx context.Context, mp *msgPlan) error {
	var tail []any // ops waiting for the next Multi
	flush := func(final bool) ([]zk.MultiResponse, error) {
		limit := r.a.cfg.MaxBatchOps - reserveOps
		for len(tail) > limit || (!final && len(tail) > 0) {
			n := min(len(tail), limit)
			if _, err := r.multi(tail[:n]); err != nil {
				return nil, err
			}
			tail = tail[n:]
		}
		if !final {
			return nil, nil
		}
		return r.multi(r.finalOps(tail, mp.cp))
	}
	for _, s := range mp.steps {
		if s.direct == nil {
			tail = append(tail, s.ops...)
			continue
		}
		if _, err := flush(false); err != nil {
			return err
		}
		if err := s.direct(ctx, r.conn); err != nil {
			if errors.Is(err, ErrExtendedTypesDisabled) {
				return backoff.Permanent(err)
			}
			if isRefusal(err) {
				return &refusedError{err: err, op: -1}
			}
			return err
		}
	}
	tail = append(tail, r.pl.padOpsFor(mp.targets)...)
	resp, err := flush(true)
	if err != nil {
		return err
	}
	r.released = nil
	r.committed = mp.cp
	r.committed.Version = resp[len(resp)-1].Stat.Version
	r.afterCommit([]*msgPlan{mp})
	return nil
}

// afterCommit follows a checkpoint applied with nothing in flight.
func (r *run) afterCommit(plans []*msgPlan) {
	r.tree.commit()
	r.snapAt = r.pl.snap
	r.settled(plans)
}

// settled counts plans as applied, now that their checkpoint is.
func (r *run) settled(plans []*msgPlan) {
	if r.resync && r.committed.Resync == nil {
		r.resync = false
		r.a.log.Info("resync complete: the snapshot begun after the retention gap has ended", "journal-seq", r.committed.Seq)
		r.a.mu.Lock()
		r.a.stats.LastError = ""
		r.a.mu.Unlock()
	}
	r.failures = 0
	if r.a.bo != nil {
		r.a.bo.Reset()
	}
	events := 0
	now := time.Now()
	for _, mp := range plans {
		events += mp.events
		if !mp.delivered.IsZero() {
			r.a.deliveredApplied.Observe(now.Sub(mp.delivered))
		}
	}
	r.publish(events, 1)
}

// publish copies the committed position into the stats.
func (r *run) publish(events, batches int) {
	a := r.a
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.AppliedSeq = r.committed.Seq
	a.stats.Epoch = r.committed.Epoch
	a.stats.WatermarkZxid = r.committed.WatermarkZxid
	a.stats.WatermarkTime = r.committed.WatermarkAt()
	a.stats.EventsApplied += uint64(events)
	a.stats.Batches += uint64(batches)
	a.stats.Replicated = r.tree.count
	if n := r.pl.stale - r.staleReported; n > 0 {
		a.log.Warn("skipped events of an older epoch: the tail of a deposed primary, lost at its promotion",
			"events", n, "min-epoch", r.pl.minEpoch, "journal-seq", r.committed.Seq)
		a.stats.StaleSkipped += n
		r.staleReported = r.pl.stale
	}
	a.stats.Resync = nil
	a.stats.State = "applying"
	if rs := r.committed.Resync; rs != nil {
		c := *rs
		a.stats.Resync = &c
		a.stats.State = rs.String()
	}
}

// recover handles a refused batch: if the checkpoint moved, another applier
// owns the standby; otherwise the tree was stale, so it is read again and the
// messages are planned again from the checkpoint. After repeated refusals the
// next message is applied op by op.
func (r *run) recover(ctx context.Context, refused *refusedError) error {
	_, ost, err := r.conn.Get(zkpath.Owner)
	if err != nil {
		return fmt.Errorf("read %s: %w", zkpath.Owner, err)
	}
	if ost.Version != r.owner {
		r.a.log.Error("another applier claimed the standby; stopping", "journal-seq", r.committed.Seq)
		return backoff.Permanent(fmt.Errorf("%w: %s is at version %d, this applier claimed version %d",
			ErrApplierFenced, zkpath.Owner, ost.Version, r.owner))
	}
	cp, err := ReadCheckpoint(ctx, r.conn)
	if err != nil {
		return err
	}
	if cp.Version != r.committed.Version {
		r.a.log.Error("checkpoint moved under the applier: another applier took over; stopping", "journal-seq", cp.Seq)
		return backoff.Permanent(fmt.Errorf("%w: %s is at version %d (sequence %d), expected version %d",
			ErrApplierFenced, zkpath.Checkpoint, cp.Version, cp.Seq, r.committed.Version))
	}
	if refused.outOfOrder {
		// The tree is right (abort took the plans back to the checkpoint):
		// plan the messages again without reading the standby.
		r.a.mu.Lock()
		r.a.stats.OutOfOrder++
		r.a.mu.Unlock()
		r.a.log.Debug("a pipelined batch reached the standby before the one sent ahead of it; sending it again", "journal-seq", r.committed.Seq+1)
		return nil
	}
	r.failures++
	r.a.mu.Lock()
	r.a.stats.Redone++
	r.a.stats.LastError = refused.Error()
	r.a.mu.Unlock()
	r.a.log.Debug("standby refused a batch, reading it again and planning again", "error", refused, "journal-seq", r.committed.Seq+1)
	if err := r.tree.load(ctx, r.reads, r.a.cfg.WalkConcurrency); err != nil {
		return err
	}
	r.pl.cp = r.committed.clone()
	r.pl.snap = r.snapAt
	return nil
}
