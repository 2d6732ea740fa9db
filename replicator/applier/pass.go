package applier

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

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
	// stepping is set by applySome while a message is applied in steps
	// outside one Multi (applyDirect, applyOpByOp), and stays set if that
	// failed: the standby may then hold part of the message that the tree
	// does not.
	stepping bool
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
	// The saved index's witness is read before this run writes anything.
	start := time.Now()
	saved, cold := a.warmCandidate(ctx, conn)
	if err := ctx.Err(); err != nil {
		return err // nothing written: a saved index stays for the next start
	}
	a.dropIndexFile()
	// Claim before reading the checkpoint: a Multi of the applier claimed
	// from fails after this, so the checkpoint read next stays put.
	owner, err := claimOwner(conn)
	if err != nil {
		return err
	}
	cp, err := loadCheckpoint(ctx, conn, a.cfg.Stream)
	if err != nil {
		if errors.Is(err, ErrBadCheckpoint) {
			return stop("read the checkpoint", zkpath.Checkpoint, nil, err)
		}
		return err
	}
	reads, err := zkconn.DialReadPool(ctx, conn, a.cfg.BulkSessions, zkconn.Config{Servers: a.cfg.Servers, SessionTimeout: a.cfg.SessionTimeout, Auth: a.cfg.Auth}, a.log.Named("zk-bulk"))
	if err != nil {
		return err
	}
	defer reads.Close()
	var tree *standbyTree
	if saved != nil {
		tree, cold = a.warmTree(saved, cp)
	}
	how := "warm"
	if tree == nil {
		how = "cold: " + cold
		tree = newStandbyTree(a.m)
		if err := tree.load(ctx, reads, a.cfg.WalkConcurrency); err != nil {
			return err
		}
	}
	took := time.Since(start)
	a.mu.Lock()
	a.stats.Start = how
	a.mu.Unlock()
	a.log.Info("indexed the standby", "start", how, "replicated-nodes", tree.count, "took", took.Round(time.Millisecond),
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
	reporter := replicator.StageReporter{Site: a.cfg.Site, Role: "applier", Every: a.cfg.StageReportInterval, Stages: replicator.ApplierStages,
		Snap: a.stages, Write: func(_ context.Context, data []byte) error { return replicator.WriteStages(conn, data) }, Log: a.log}
	reported := make(chan struct{})
	senders.Add(1)
	go func() {
		defer senders.Done()
		defer close(reported)
		_ = reporter.Run(gctx)
	}()
	err = g.Wait()
	if ctx.Err() != nil {
		if a.cfg.IndexFile != "" {
			// A clean stop: the reporter's last write goes before the digest.
			<-reported
			if err := r.saveIndex(); err != nil {
				a.log.Warn("index of the standby not saved; the next start walks the standby", "error", err)
			} else {
				a.log.Info("index of the standby saved for a warm start", "file", a.cfg.IndexFile, "replicated-nodes", tree.count)
			}
		}
		return nil
	}
	return err
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
