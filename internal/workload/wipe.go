package workload

import "context"

// Wipe deletes every root of the workload and everything below it, as an
// errant `deleteall` would (with a prefix, the prefix stays, empty), and
// returns how many znodes it deleted, ephemerals of live sessions included.
// Run refuses to start again until Populate has rebuilt the tree. Called while
// Run runs, Wipe deletes what it finds, but Run's next writes may make
// parents again.
func (w *Workload) Wipe(ctx context.Context) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, ErrClosed
	}
	w.populated = false
	w.mu.Unlock()
	op := &Op{Kind: KindWipe, Path: w.cfg.Prefix}
	if op.Path == "" {
		op.Path = "/"
	}
	n := 0
	w.executeFunc(ctx, op, func() error {
		for _, root := range w.Roots() {
			k, err := w.deleteTree(ctx, op, root)
			n += k
			op.N = n
			if err != nil {
				return err
			}
		}
		return nil
	})
	w.lockMu.Lock()
	clear(w.lockPaths)
	clear(w.lockOwners)
	w.lockMu.Unlock()
	return n, op.Err
}
