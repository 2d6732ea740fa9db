package applier

import (
	"context"
	"time"

	"github.com/zkdr/zkdr/journal"
)

// A message that deletes waits for the heartbeat that closes its group while
// the source keeps sending: until no message has come for deleteHoldQuiet (a
// source that stopped right after deleting sends none), for deleteHoldMax in
// all, or until deleteHoldMsgs messages wait behind it (a long catch-up walk
// holds the source's heartbeats back).
const (
	deleteHoldQuiet = 2 * time.Second
	deleteHoldMax   = 30 * time.Second
	deleteHoldMsgs  = 8192
)

// The delete guard judges the deletes between two heartbeats as one group
// (see guard_rule.go), the same however the journal and the fetcher cut them
// into messages and batches: a primary transaction that deletes a subtree
// reaches the source as one notification per node, and the source publishes
// them as their reads come back, so they can span several messages. A message
// whose deletes no heartbeat follows yet is held until one does (see the
// bounds above); then a dry run plans the group through that heartbeat, and a
// group that trips is held before its first message is applied. Only a source
// that stalls inside a group splits it, and then the guard judges what has
// arrived: the verdict on the group comes out the same (its shrink only
// grows), but the pause may come after part of it.

// windowCut returns how many messages of pending may be planned now: all of
// them, or those before the first one with a delete that no heartbeat follows
// yet, while its hold has not run out. final (the fetch ended), or a guard
// that is off, holds nothing.
func (r *run) windowCut(pending []journal.Message, final bool) int {
	cut := openDeletes(pending)
	if cut == len(pending) || final || r.pl.guard.share >= 1 {
		r.heldSeq = 0
		return len(pending)
	}
	now := time.Now()
	if r.heldSeq != pending[cut].Seq {
		r.heldSeq, r.heldAt = pending[cut].Seq, now
	}
	if r.heldLen != len(pending) {
		r.heldLen, r.heldQuiet = len(pending), now
	}
	if r.holdLeft() == 0 || len(pending)-cut >= deleteHoldMsgs {
		return len(pending)
	}
	return cut
}

// holdLeft is how long the current hold may still last.
func (r *run) holdLeft() time.Duration {
	return max(0, min(deleteHoldQuiet-time.Since(r.heldQuiet), deleteHoldMax-time.Since(r.heldAt)))
}

// openDeletes returns the index of the first message with a delete after the
// last heartbeat in pending, or len(pending).
func openDeletes(pending []journal.Message) int {
	for i := len(pending) - 1; i >= 0; i-- {
		evs := pending[i].Events
		for k := len(evs) - 1; k >= 0; k-- {
			if evs[k].Kind == journal.KindHeartbeat {
				return firstDelete(pending, i, k+1)
			}
		}
	}
	return firstDelete(pending, 0, 0)
}

// firstDelete finds the first message holding a delete (or a snapshot-end,
// which deletes what the snapshot did not mention) at or after event k of
// message i.
func firstDelete(pending []journal.Message, i, k int) int {
	for ; i < len(pending); i, k = i+1, 0 {
		for _, ev := range pending[i].Events[k:] {
			if ev.Kind == journal.KindDelete || ev.Kind == journal.KindSnapshotEnd {
				return i
			}
		}
	}
	return len(pending)
}

// deletes reports whether msg may delete standby nodes.
func deletes(msg journal.Message) bool {
	return firstDelete([]journal.Message{msg}, 0, 0) == 0
}

// judge dry-runs the groups of deletes that begin in pending[0] (or go on
// there), through the heartbeats that close them, and returns the verdict that
// trips on pending[0], if any. A group that begins later and trips is judged
// again when its first message comes (nothing before it is held for it).
func (r *run) judge(pending []journal.Message) (*guardVerdict, error) {
	mark, saved := r.tree.mark(), r.pl.save()
	r.pl.judging, r.pl.verdicts = true, nil
	defer func() {
		r.tree.rollback(mark)
		r.pl.restore(saved)
		r.pl.judging, r.pl.verdicts = false, nil
	}()
	first := pending[0].Seq
	last := first
	for _, msg := range pending {
		if r.pl.cp.resyncing() && !hasSnapshotBegin(msg) {
			continue
		}
		if _, err := r.pl.plan(msg, false); err != nil {
			break // the real pass stops on it
		}
		last = msg.Seq
		if r.pl.window().Group == nil {
			break
		}
	}
	// A group no heartbeat closes yet (its hold ran out, or the journal
	// ended) is judged as it stands.
	r.pl.closeGroup()
	r.judgedThrough = last
	for _, v := range r.pl.verdicts {
		if !v.trips {
			continue
		}
		if v.group.FirstSeq > first {
			r.judgedThrough = v.group.FirstSeq - 1
			return nil, nil
		}
		return &v, nil
	}
	return nil, nil
}

// hold pauses the applier before msg, the first message of a group the guard
// tripped on (or the next one of it), until an operator releases it; then the
// next Multi deletes the guard node, and nothing trips for one window of
// primary time.
func (r *run) hold(ctx context.Context, msg journal.Message, v *guardVerdict) error {
	version, err := r.a.holdGuard(ctx, r.conn, GuardState{
		State: GuardPaused, Stream: r.a.cfg.Stream,
		FirstSeq: msg.Seq, LastSeq: r.judgedThrough,
		Deletes: v.group.Deletes, Replicated: v.group.Before,
		Shrink: v.shrink, Peak: v.peak,
		Share: r.a.cfg.DeleteGuardShare, Window: r.a.cfg.DeleteGuardWindow.String(),
		Sample: v.group.Sample, Since: time.Now().UTC(),
	})
	if err != nil {
		return err
	}
	r.released = &version
	r.pl.window().release(r.a.cfg.DeleteGuardWindow)
	return nil
}
