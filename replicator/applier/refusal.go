package applier

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// settleRefusal recovers from a refusal (see recover) and passes any other
// error on.
func (r *run) settleRefusal(ctx context.Context, err error) error {
	var refused *refusedError
	if !errors.As(err, &refused) {
		return err
	}
	return r.recover(ctx, refused)
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
		return stopAt("claim the standby", zkpath.Owner, 0, fmt.Errorf("%w: %s is at version %d, this applier claimed version %d",
			ErrFenced, zkpath.Owner, ost.Version, r.owner))
	}
	cp, err := ReadCheckpoint(ctx, r.conn)
	if err != nil {
		return err
	}
	if cp.Version != r.committed.Version {
		r.a.log.Error("checkpoint moved under the applier: another applier took over; stopping", "journal-seq", cp.Seq)
		return stopAt("checkpoint", zkpath.Checkpoint, 0, fmt.Errorf("%w: %s is at version %d (sequence %d), expected version %d",
			ErrFenced, zkpath.Checkpoint, cp.Version, cp.Seq, r.committed.Version))
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
