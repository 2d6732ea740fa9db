package workload

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"
)

// execLockAcquire takes a place in a lock's queue as Curator's
// InterProcessMutex does: an ephemeral sequential node whose name carries a
// fresh uuid, then the lock's children, to see whether it is first. A create
// whose reply was lost is looked for by its uuid before it is sent again
// (Curator's protected mode), so a retry makes no second node.
func (w *Workload) execLockAcquire(ctx context.Context, op *Op) error {
	a := op.a
	s := w.lockers[a.client]
	parent := path.Dir(op.Path)
	marker := "_c_" + a.uuid + "-"
	data := []byte(fmt.Sprintf("10.0.1.%d", a.client+1)) // Curator stores the client's address
	var name string
	found := false
	attempt := 0
	try := func() error {
		return w.do(ctx, s, func(c *zk.Conn) error {
			attempt++
			if attempt > 1 {
				kids, _, err := c.Children(parent)
				if err != nil && !errors.Is(err, zk.ErrNoNode) {
					return err
				}
				for _, k := range kids {
					if strings.HasPrefix(k, marker) {
						name, found = parent+"/"+k, true
						return nil
					}
				}
			}
			var err error
			name, err = c.Create(op.Path, data, zk.FlagEphemeral|zk.FlagSequence, w.open)
			return err
		})
	}
	err := try()
	if errors.Is(err, zk.ErrNoNode) {
		if err := w.createParents(ctx, op, parent); err != nil {
			return err
		}
		err = try()
	}
	if err != nil {
		return w.opErr(op, op.Path, err)
	}
	if !found {
		op.Creates++
		op.Bytes += len(data)
	}
	w.lockMu.Lock()
	w.lockPaths[a.uuid] = name
	w.lockOwners[a.uuid] = a.client
	w.lockMu.Unlock()
	if _, err := w.children(ctx, s, parent); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return w.opErr(op, parent, err)
	}
	return nil
}

// execLockRelease deletes a held lock node.
func (w *Workload) execLockRelease(ctx context.Context, op *Op) error {
	a := op.a
	w.lockMu.Lock()
	name := w.lockPaths[a.uuid]
	delete(w.lockPaths, a.uuid)
	delete(w.lockOwners, a.uuid)
	w.lockMu.Unlock()
	s := w.lockers[a.client]
	if name == "" {
		// Not acquired by this workload's lanes: look for it by its uuid.
		parent := path.Dir(op.Path)
		kids, err := w.children(ctx, s, parent)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return w.opErr(op, parent, err)
		}
		for _, k := range kids {
			if strings.HasPrefix(k, "_c_"+a.uuid+"-") {
				name = parent + "/" + k
			}
		}
		if name == "" {
			return nil
		}
	}
	return w.remove(ctx, op, s, name)
}

// execLockClientRestart closes a lock client's session, which releases every
// lock it held, and opens another.
func (w *Workload) execLockClientRestart(ctx context.Context, op *Op) error {
	c := op.a.client
	if err := w.lockers[c].restart(ctx); err != nil {
		return w.opErr(op, op.Path, err)
	}
	w.lockMu.Lock()
	for u, owner := range w.lockOwners {
		if owner == c {
			delete(w.lockOwners, u)
			delete(w.lockPaths, u)
		}
	}
	w.lockMu.Unlock()
	return nil
}
