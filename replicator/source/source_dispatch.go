package source

import (
	"context"
	"errors"
	"sync"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// notifQueue takes events from go-zookeeper's receive goroutine, which must never
// block, and hands them to the dispatch loop in arrival order.
type notifQueue struct {
	mu    sync.Mutex
	items []zk.Event
	wake  chan struct{}
}

func (q *notifQueue) push(ev zk.Event) {
	if ev.Type == zk.EventNotWatching {
		// go-zookeeper invalidates every watch this way on expiry; the re-walk covers them.
		return
	}
	q.mu.Lock()
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *notifQueue) popAll() []zk.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// dispatchLoop turns notifications, in arrival order, into read tasks with slots
// reserved in that same order.
func (s *Source) dispatchLoop(ctx context.Context) error {
	expired := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.notes.wake:
		}
		for _, ev := range s.notes.popAll() {
			if ev.Type == zk.EventSession {
				switch ev.State {
				case zk.StateExpired:
					expired = true
					s.expiries.Add(1)
					s.hbRearm.Store(true)
					s.log.Warn("zookeeper session expired: watches are lost, re-walking when a new session is up")
				case zk.StateHasSession:
					if expired {
						expired = false
						s.requestWalk(walkRequest{rewatch: true})
						s.wakeSnapshotLoop() // its watch is gone too
					}
				}
				continue
			}
			if err := s.dispatch(ctx, ev); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

func (s *Source) dispatch(ctx context.Context, ev zk.Event) error {
	p := ev.Path
	if p == zkpath.Heartbeat {
		if ev.Type == zk.EventNodeDataChanged {
			gen := s.hbGen.Load()
			return s.startTask(ctx, func(ctx context.Context) result { return s.readHeartbeat(ctx, gen) })
		}
		return nil
	}
	if p == zkpath.SnapshotRequest {
		s.wakeSnapshotLoop()
		return nil
	}
	if !s.cfg.Scope.Contains(p) {
		return nil
	}
	switch ev.Type {
	case zk.EventNodeDataChanged:
		if e, ok := s.idx.get(p); ok && e.skipped {
			return nil // a skipped ephemeral: let its watch lapse
		}
		return s.startTask(ctx, func(ctx context.Context) result { return s.readData(ctx, p) })
	case zk.EventNodeChildrenChanged:
		return s.startTask(ctx, func(ctx context.Context) result { return s.readChildren(ctx, p) })
	case zk.EventNodeDeleted, zk.EventNodeCreated:
		// The parent's child watch reports the delete itself; this read catches a
		// re-create between two listings of the parent (a changed czxid).
		return s.startTask(ctx, func(ctx context.Context) result { return s.readIfExists(ctx, p) })
	}
	return nil
}

// startTask reserves the next slot, then runs fn, bounded by ReadConcurrency.
func (s *Source) startTask(ctx context.Context, fn func(context.Context) result) error {
	sl, err := s.reserve(ctx)
	if err != nil {
		return err
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.group.Go(func() error {
		defer func() { <-s.sem }()
		sl.fill(fn(ctx))
		return nil
	})
	return nil
}

// readData follows a data notification: re-read with a new watch, and the ACL too
// when its version moved.
func (s *Source) readData(ctx context.Context, p string) result {
	n := nodeRead{path: p}
	data, st, err := s.getW(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		// Deleted since: publish that here, before anything notified later.
		return s.readIfExists(ctx, p)
	}
	if err != nil {
		return result{err: err}
	}
	n.exists, n.hasData, n.stat, n.data = true, true, *st, data
	if e, ok := s.idx.get(p); ok && !e.skipped && e.aversion != st.Aversion {
		acl, ast, err := s.getACL(ctx, s.conn, p)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return result{err: err}
		}
		if err == nil && ast.Czxid == st.Czxid {
			n.acl, n.aclStat = acl, *ast
		}
	}
	return result{kind: resNodes, nodes: []nodeRead{n}}
}

// readChildren follows a child notification: re-list with a new watch and read
// the subtree of every child the index does not know yet, several at a time (a
// burst of creates under one parent arrives as one notification).
func (s *Source) readChildren(ctx context.Context, p string) result {
	kids, st, err := s.childrenW(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return s.readIfExists(ctx, p)
	}
	if err != nil {
		return result{err: err}
	}
	var fresh []string
	for _, k := range kids {
		c := zkpath.Child(p, k)
		if _, ok := s.idx.get(c); !ok && s.cfg.Scope.Contains(c) && !s.isPending(c) {
			fresh = append(fresh, c)
		}
	}
	subs := make([][]nodeRead, len(fresh))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(newChildReaders)
	for i, c := range fresh {
		g.Go(func() (err error) {
			subs[i], err = s.readSubtree(gctx, c)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return result{err: err}
	}
	nodes := []nodeRead{{path: p, exists: true, listed: true, kids: kids, lstat: *st}}
	for _, sub := range subs {
		nodes = append(nodes, sub...)
	}
	return result{kind: resNodes, nodes: nodes}
}

// newChildReaders bounds the subtree reads one child notification runs at once.
const newChildReaders = 16

// readIfExists follows a deleted/created notification. Plain Exists calls, not
// watched ones: a watched read of a missing path would leave an exist watch behind
// for every deleted node. The parent's pzxid is read first, so a missing node
// proves that every incarnation created at or before it is gone.
func (s *Source) readIfExists(ctx context.Context, p string) result {
	var (
		ok     bool
		parent *zk.Stat
		asOf   int64
	)
	if !zkpath.IsRoot(s.roots, p) {
		// The nearest ancestor that exists. When the parent is gone too (a
		// recursive delete), p's delete is still published here: a heartbeat
		// notified after this one must not pass a change of p (a set just before
		// the delete) that nothing else reports, as the parent's own delete may
		// be published after it. Any ancestor's pzxid read before p is found
		// missing bounds the incarnations known gone.
		for q := zkpath.Parent(p); ; q = zkpath.Parent(q) {
			err := s.retry(ctx, "exists", q, func() (err error) {
				ok, parent, err = s.conn.Exists(q)
				return err
			})
			if err != nil {
				return result{err: err}
			}
			if ok || q == "/" {
				break
			}
		}
		if ok {
			asOf = parent.Pzxid
		}
	}
	err := s.retry(ctx, "exists", p, func() (err error) {
		ok, _, err = s.conn.Exists(p)
		return err
	})
	if err != nil {
		return result{err: err}
	}
	if !ok {
		if zkpath.IsRoot(s.roots, p) {
			if err := s.watchRoot(ctx, p); err != nil {
				return result{err: err}
			}
		}
		return result{kind: resNodes, nodes: []nodeRead{{path: p, absentAsOf: asOf}}}
	}
	nodes, err := s.readSubtree(ctx, p)
	if err != nil {
		return result{err: err}
	}
	nodes[0].absentAsOf = asOf // if it was deleted after all
	return result{kind: resNodes, nodes: nodes}
}
