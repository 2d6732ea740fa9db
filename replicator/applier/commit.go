package applier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

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
		return nil, stop("multi", "", nil, fmt.Errorf("%w: %w", ErrApply, err))
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
				return stopAt("create", "", mp.seq, err)
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
