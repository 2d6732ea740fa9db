package applier

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/journal"
)

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
				return pending[from:], stop("plan", "", &msg, err)
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
			return pending[from:], stop("plan", "", &msg, err)
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
		r.stepping = true
		if r.failures >= 2 {
			err = r.applyOpByOp(ctx, mp)
		} else {
			err = r.applyDirect(ctx, mp)
		}
		if err != nil {
			return pending[from:], err
		}
		r.stepping = false
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
