package workload

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"
)

// multiBytes bounds the data of one Multi, well under jute.maxbuffer.
const multiBytes = 512 << 10

// do runs f on s's session, again after a connection loss (with backoff, for
// up to Config.RetryFor); any other error ends it.
func (w *Workload) do(ctx context.Context, s *session, f func(c *zk.Conn) error) error {
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(20*time.Millisecond),
		backoff.WithMaxInterval(time.Second), backoff.WithMaxElapsedTime(w.cfg.RetryFor))
	return backoff.RetryNotify(func() error {
		c, err := s.get(ctx)
		if err != nil {
			return backoff.Permanent(err)
		}
		err = f(c)
		if err != nil && !retryable(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx), func(err error, d time.Duration) {
		w.warn.Warn("zookeeper request failed; retrying", "session", s.name, "error", err, "retry-in", d)
	})
}

func (w *Workload) opErr(op *Op, p string, err error) error {
	return &OpError{Kind: op.Kind, Path: p, Err: err}
}

// create makes p with flags (as zk.Create takes them) and returns the name
// the server gave it. An existing node counts as made, as Kafka and Curator
// treat it (a retry after a lost reply, or another client got there first);
// missing parents are made first, as Curator's creatingParentsIfNeeded does.
func (w *Workload) create(ctx context.Context, op *Op, s *session, p string, data []byte, flags int32) (string, error) {
	var name string
	try := func() error {
		return w.do(ctx, s, func(c *zk.Conn) error {
			var err error
			name, err = c.Create(p, data, flags, w.open)
			return err
		})
	}
	err := try()
	if errors.Is(err, zk.ErrNoNode) {
		if err := w.createParents(ctx, op, path.Dir(p)); err != nil {
			return "", err
		}
		err = try()
	}
	switch {
	case err == nil:
		op.Creates++
		op.Bytes += len(data)
		return name, nil
	case errors.Is(err, zk.ErrNodeExists) && flags&zk.FlagSequence == 0:
		return p, nil
	}
	return "", w.opErr(op, p, err)
}

// createEphemeral makes p an ephemeral of s. A node that an earlier session
// of the same client still holds (one being closed) is waited for until it
// goes, as Kafka's broker registration does; one this session holds already
// (a retry after a lost reply) counts as made.
func (w *Workload) createEphemeral(ctx context.Context, op *Op, s *session, p string, data []byte) error {
	ours := false
	try := func() error {
		return w.do(ctx, s, func(c *zk.Conn) error {
			_, err := c.Create(p, data, zk.FlagEphemeral, w.open)
			if !errors.Is(err, zk.ErrNodeExists) {
				return err
			}
			ok, st, err := c.Exists(p)
			switch {
			case err != nil:
				return err
			case ok && st.EphemeralOwner == c.SessionID():
				ours = true
				return nil
			}
			return errOwnedByOther
		})
	}
	err := try()
	if errors.Is(err, zk.ErrNoNode) {
		if err := w.createParents(ctx, op, path.Dir(p)); err != nil {
			return err
		}
		err = try()
	}
	if err != nil {
		return w.opErr(op, p, err)
	}
	if !ours {
		op.Creates++
		op.Bytes += len(data)
	}
	return nil
}

// createParents makes every missing ancestor of dir and dir itself, empty
// and persistent.
func (w *Workload) createParents(ctx context.Context, op *Op, dir string) error {
	var parts []string
	for d := dir; d != "/" && d != "."; d = path.Dir(d) {
		parts = append(parts, d)
	}
	slices.Reverse(parts)
	for _, d := range parts {
		err := w.do(ctx, w.main, func(c *zk.Conn) error {
			_, err := c.Create(d, nil, 0, w.open)
			return err
		})
		switch {
		case err == nil:
			op.Creates++
		case !errors.Is(err, zk.ErrNodeExists):
			return w.opErr(op, d, err)
		}
	}
	return nil
}

// remove deletes p on s; a node already gone counts as deleted.
func (w *Workload) remove(ctx context.Context, op *Op, s *session, p string) error {
	err := w.do(ctx, s, func(c *zk.Conn) error { return c.Delete(p, -1) })
	switch {
	case err == nil:
		op.Deletes++
		return nil
	case errors.Is(err, zk.ErrNoNode):
		return nil
	}
	return w.opErr(op, p, err)
}

// set writes data to p if its version is still version (-1: any). ErrNoNode
// and ErrBadVersion come back as they are, for the caller to decide.
func (w *Workload) set(ctx context.Context, op *Op, s *session, p string, data []byte, version int32) error {
	err := w.do(ctx, s, func(c *zk.Conn) error {
		_, err := c.Set(p, data, version)
		return err
	})
	switch {
	case err == nil:
		op.Sets++
		op.Bytes += len(data)
		return nil
	case errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrBadVersion):
		return err
	}
	return w.opErr(op, p, err)
}

// get reads p; ErrNoNode comes back as it is.
func (w *Workload) get(ctx context.Context, s *session, p string) ([]byte, *zk.Stat, error) {
	var data []byte
	var st *zk.Stat
	err := w.do(ctx, s, func(c *zk.Conn) error {
		var err error
		data, st, err = c.Get(p)
		return err
	})
	return data, st, err
}

// children lists p's children, sorted; ErrNoNode comes back as it is.
func (w *Workload) children(ctx context.Context, s *session, p string) ([]string, error) {
	var kids []string
	err := w.do(ctx, s, func(c *zk.Conn) error {
		var err error
		kids, _, err = c.Children(p)
		return err
	})
	slices.Sort(kids)
	return kids, err
}

// multi runs reqs in Multi transactions of at most MultiChunk operations and
// multiBytes of data, in order. A transaction that fails on the tree (a node
// that exists, one that is gone) is done again one request at a time with
// the same idempotent rules as create and remove; an errNotEmpty of a delete
// is returned after the rest was done.
func (w *Workload) multi(ctx context.Context, op *Op, s *session, reqs []any) error {
	var notEmpty error
	for len(reqs) > 0 {
		n, bytes := 0, 0
		for n < len(reqs) && n < w.cfg.MultiChunk {
			if cr, ok := reqs[n].(*zk.CreateRequest); ok {
				if n > 0 && bytes+len(cr.Data) > multiBytes {
					break
				}
				bytes += len(cr.Data)
			}
			if sr, ok := reqs[n].(*zk.SetDataRequest); ok {
				if n > 0 && bytes+len(sr.Data) > multiBytes {
					break
				}
				bytes += len(sr.Data)
			}
			n++
		}
		chunk := reqs[:n]
		reqs = reqs[n:]
		err := w.do(ctx, s, func(c *zk.Conn) error {
			_, err := c.Multi(chunk...)
			return err
		})
		if err == nil {
			for _, r := range chunk {
				switch r := r.(type) {
				case *zk.CreateRequest:
					op.Creates++
					op.Bytes += len(r.Data)
				case *zk.SetDataRequest:
					op.Sets++
					op.Bytes += len(r.Data)
				case *zk.DeleteRequest:
					op.Deletes++
				}
			}
			continue
		}
		if !errors.Is(err, zk.ErrNodeExists) && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrNotEmpty) {
			return w.opErr(op, firstPath(chunk), err)
		}
		for _, r := range chunk {
			var err error
			switch r := r.(type) {
			case *zk.CreateRequest:
				_, err = w.create(ctx, op, s, r.Path, r.Data, r.Flags)
			case *zk.SetDataRequest:
				if err = w.set(ctx, op, s, r.Path, r.Data, r.Version); errors.Is(err, zk.ErrNoNode) {
					err = nil
				}
			case *zk.DeleteRequest:
				err = w.remove(ctx, op, s, r.Path)
				if errors.Is(err, zk.ErrNotEmpty) {
					notEmpty, err = err, nil
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return notEmpty
}

func firstPath(reqs []any) string {
	if len(reqs) == 0 {
		return ""
	}
	switch r := reqs[0].(type) {
	case *zk.CreateRequest:
		return r.Path
	case *zk.SetDataRequest:
		return r.Path
	case *zk.DeleteRequest:
		return r.Path
	case *zk.CheckVersionRequest:
		return r.Path
	}
	return ""
}

// listTree returns root and every node below it, each parent before its
// children, reading a level at a time with a few requests in flight. Nodes
// that vanish meanwhile are left out.
func (w *Workload) listTree(ctx context.Context, root string) ([]string, error) {
	if ok, err := w.exists(ctx, root); err != nil || !ok {
		return nil, err
	}
	out := []string{root}
	level := []string{root}
	for len(level) > 0 {
		var mu sync.Mutex
		var next []string
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(16)
		for _, p := range level {
			g.Go(func() error {
				kids, err := w.children(gctx, w.main, p)
				if errors.Is(err, zk.ErrNoNode) {
					return nil
				}
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				for _, k := range kids {
					next = append(next, path.Join(p, k))
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		// The level's order does not matter for deleting; sorting keeps it
		// the same from run to run.
		slices.Sort(next)
		out = append(out, next...)
		level = next
	}
	return out, nil
}

// exists says whether p is there.
func (w *Workload) exists(ctx context.Context, p string) (bool, error) {
	var ok bool
	err := w.do(ctx, w.main, func(c *zk.Conn) error {
		var err error
		ok, _, err = c.Exists(p)
		return err
	})
	return ok, err
}

// deleteTree deletes root and everything below it, children before their
// parents, in Multi chunks, and returns how many nodes it deleted. A child
// created meanwhile makes its parent's delete fail (ErrNotEmpty); the tree is
// then listed and deleted again, a few times at most.
func (w *Workload) deleteTree(ctx context.Context, op *Op, root string) (int, error) {
	before := op.Deletes
	for pass := 0; ; pass++ {
		nodes, err := w.listTree(ctx, root)
		if err != nil {
			return op.Deletes - before, w.opErr(op, root, err)
		}
		if len(nodes) == 0 {
			return op.Deletes - before, nil
		}
		slices.Reverse(nodes) // deeper levels first
		reqs := make([]any, len(nodes))
		for i, p := range nodes {
			reqs[i] = &zk.DeleteRequest{Path: p, Version: -1}
		}
		err = w.multi(ctx, op, w.main, reqs)
		if err == nil {
			return op.Deletes - before, nil
		}
		if !errors.Is(err, zk.ErrNotEmpty) || pass == 4 {
			return op.Deletes - before, err
		}
	}
}

// drain deletes the children of parent in sequence order, all but the newest
// keep, reading each first when read is set (a controller handles a
// notification before it deletes it), and returns how many it deleted.
func (w *Workload) drain(ctx context.Context, op *Op, parent string, keep int, read bool) (int, error) {
	kids, err := w.children(ctx, w.main, parent)
	if errors.Is(err, zk.ErrNoNode) {
		return 0, nil
	}
	if err != nil {
		return 0, w.opErr(op, parent, err)
	}
	kids = bySequence(kids)
	if len(kids) <= keep {
		return 0, nil
	}
	kids = kids[:len(kids)-keep]
	reqs := make([]any, 0, len(kids))
	for _, k := range kids {
		p := parent + "/" + k
		if read {
			if _, _, err := w.get(ctx, w.main, p); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return 0, w.opErr(op, p, err)
			}
		}
		reqs = append(reqs, &zk.DeleteRequest{Path: p, Version: -1})
	}
	before := op.Deletes
	err = w.multi(ctx, op, w.main, reqs)
	return op.Deletes - before, err
}

// bySequence sorts sequential node names by their 10-digit suffix (what
// queue consumers and Curator's lock do), names without one last.
func bySequence(names []string) []string {
	seq := func(n string) string {
		if len(n) >= 10 {
			return n[len(n)-10:]
		}
		return "~" + n
	}
	slices.SortStableFunc(names, func(a, b string) int { return strings.Compare(seq(a), seq(b)) })
	return names
}
