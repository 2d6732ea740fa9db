package applier

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// applyOpByOp is the last resort after the standby refused a message's Multi
// twice even with a freshly read tree (something else is writing to it): every
// op runs alone with idempotent translation, then the checkpoint is written on
// its own. Not atomic with the checkpoint, so a crash in between applies the
// message again, which converges for the same reason as applyDirect.
func (r *run) applyOpByOp(ctx context.Context, mp *msgPlan) error {
	r.a.log.Warn("applying a message op by op after repeated refusals", "journal-seq", mp.seq)
	for _, s := range mp.steps {
		if s.direct != nil {
			if err := s.direct(ctx, r.conn); err != nil {
				if errors.Is(err, ErrExtendedTypesDisabled) {
					return stopAt("create", "", mp.seq, err)
				}
				return err
			}
			continue
		}
		for _, op := range s.ops {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.applyOne(op); err != nil {
				return err
			}
		}
	}
	resp, err := r.multi(r.finalOps(nil, mp.cp))
	if err != nil {
		return err
	}
	r.released = nil
	r.committed = mp.cp
	r.committed.Version = resp[len(resp)-1].Stat.Version
	r.a.mu.Lock()
	r.a.stats.OpByOp++
	r.a.mu.Unlock()
	// The tree was built on a plan the standby did not follow: read it again.
	if err := r.tree.load(ctx, r.reads, r.a.cfg.WalkConcurrency); err != nil {
		return err
	}
	r.afterCommit([]*msgPlan{mp})
	return nil
}

// applyOne applies one op with idempotent translation: create on existing =
// set data and ACL; set on missing = create (parents first); delete on missing
// = nothing; delete of a node with children = delete its subtree.
func (r *run) applyOne(op any) error {
	c := r.conn
	switch o := op.(type) {
	case *zk.CreateRequest:
		_, err := c.Create(o.Path, o.Data, o.Flags, o.Acl)
		if errors.Is(err, zk.ErrNoNode) {
			if err = r.createParents(zkpath.Parent(o.Path)); err == nil {
				_, err = c.Create(o.Path, o.Data, o.Flags, o.Acl)
			}
		}
		if errors.Is(err, zk.ErrNodeExists) {
			if baseName(o.Path) == padName {
				return nil
			}
			if _, err = c.Set(o.Path, o.Data, -1); err == nil {
				_, err = c.SetACL(o.Path, o.Acl, -1)
			}
		}
		if err != nil {
			return fmt.Errorf("%w: create %s: %w", ErrApply, o.Path, err)
		}
	case *zk.SetDataRequest:
		_, err := c.Set(o.Path, o.Data, o.Version)
		if errors.Is(err, zk.ErrNoNode) {
			if err = r.createParents(zkpath.Parent(o.Path)); err == nil {
				_, err = c.Create(o.Path, o.Data, 0, worldACL)
			}
		}
		if err != nil {
			return fmt.Errorf("%w: set %s: %w", ErrApply, o.Path, err)
		}
	case *zk.DeleteRequest:
		if err := r.deleteTree(o.Path); err != nil {
			return fmt.Errorf("%w: delete %s: %w", ErrApply, o.Path, err)
		}
	default:
		return fmt.Errorf("%w: unexpected op %T", ErrApply, op)
	}
	return nil
}

func (r *run) createParents(p string) error {
	if p == "/" {
		return nil
	}
	ok, _, err := r.conn.Exists(p)
	if err != nil || ok {
		return err
	}
	if err := r.createParents(zkpath.Parent(p)); err != nil {
		return err
	}
	if _, err := r.conn.Create(p, nil, 0, worldACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	return nil
}

// deleteTree deletes p and whatever is below it on the standby right now.
func (r *run) deleteTree(p string) error {
	for {
		err := r.conn.Delete(p, -1)
		if err == nil || errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if !errors.Is(err, zk.ErrNotEmpty) {
			return err
		}
		kids, _, err := r.conn.Children(p)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		for _, k := range kids {
			if err := r.deleteTree(zkpath.Child(p, k)); err != nil {
				return err
			}
		}
	}
}
