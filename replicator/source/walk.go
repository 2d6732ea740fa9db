package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// walkRequest says what the next walk must do. snapshot: publish it as a
// snapshot (snapshot-begin, snapshot-node per node, snapshot-end). rewatch:
// watches may be missing (bootstrap, session expiry), so changes can be
// published late and heartbeats wait until the walk ends.
type walkRequest struct {
	snapshot, rewatch bool
}

// walkLoop runs the walks requested: the bootstrap, one re-walk per session
// expiry, and later snapshots.
func (s *Source) walkLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.walkWake:
		}
		s.walkMu.Lock()
		req := s.walkNext
		s.walkNext = walkRequest{}
		s.walkMu.Unlock()
		if !req.snapshot && !req.rewatch {
			continue
		}
		if err := s.walk(ctx, req); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// requestWalk asks for a walk; requests made before the next walk starts merge
// into it (one re-walk covers any number of expiries, one snapshot any number
// of requests).
func (s *Source) requestWalk(req walkRequest) {
	s.walkMu.Lock()
	s.walkNext.snapshot = s.walkNext.snapshot || req.snapshot
	s.walkNext.rewatch = s.walkNext.rewatch || req.rewatch
	s.walkMu.Unlock()
	select {
	case s.walkWake <- struct{}{}:
	default:
	}
}

// aclReader is the one call a walk sends to the bulk sessions.
type aclReader interface {
	GetACL(path string) ([]zk.ACL, *zk.Stat, error)
}

var _ aclReader = (*zk.Conn)(nil)

// walk reads every node in scope with ReadConcurrency reads in flight, arming a
// data and a child watch on each on the watching session. ACLs are read on bulk
// sessions, which spreads the load over more connections; an ACL read that is
// older than the watched read is redone on the watching session. Every node gets a
// slot reserved before its first read, so its result is published before whatever
// its watches report later. With req.snapshot, results are snapshot-node events
// between snapshot-begin and snapshot-end; otherwise (after a session expiry)
// only the differences from the index are published.
func (s *Source) walk(ctx context.Context, req walkRequest) error {
	start := time.Now()
	var id uint64
	if req.snapshot {
		id = uint64(start.UnixNano())
		s.snapBase.Store(s.changes.Load())
	}
	s.walkCount.Add(1)
	s.walkNodes.Store(0)
	s.walkActive.Store(true)
	defer s.walkActive.Store(false)
	s.log.Info("walk started", "snapshot", req.snapshot, "rewatch", req.rewatch, "roots", s.roots)
	sl, err := s.reserve(ctx)
	if err != nil {
		return err
	}
	sl.fill(result{kind: resWalkBegin, snapshot: id, rewatch: req.rewatch, time: start.UnixNano()})

	readers, err := zkconn.DialReadPool(ctx, s.conn, s.cfg.BulkSessions, s.cfg.zk(), s.log.Named("zk-bulk"))
	if err != nil {
		return err
	}
	defer readers.Close()

	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		queue   []walkItem
		pending = len(s.roots)
		count   uint64
	)
	for _, r := range s.roots {
		queue = append(queue, walkItem{path: r})
	}
	// Only a walk that re-arms watches has notification reads leave its paths
	// to it: heartbeats wait for such a walk anyway. During a snapshot taken
	// with every watch in place, a create a listing reports is read at once,
	// or a heartbeat could pass it while the walk has yet to come to it.
	pend := func(p ...string) {
		if req.rewatch {
			s.setPending(p...)
		}
	}
	pend(s.roots...)
	g, gctx := errgroup.WithContext(ctx)
	// Wake idle workers when the walk fails or is cancelled.
	stop := context.AfterFunc(gctx, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
	defer stop()
	for w := 0; w < s.cfg.ReadConcurrency; w++ {
		bulk := readers.At(w)
		g.Go(func() error {
			for {
				mu.Lock()
				for len(queue) == 0 && pending > 0 && gctx.Err() == nil {
					cond.Wait()
				}
				if len(queue) == 0 || gctx.Err() != nil {
					mu.Unlock()
					return gctx.Err()
				}
				it := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				mu.Unlock()

				n, err := s.walkNode(gctx, it, bulk, id)
				mu.Lock()
				pending--
				if err == nil && n.exists && n.listed {
					count++
					s.walkNodes.Add(1)
					for _, k := range n.kids {
						if c := zkpath.Child(it.path, k); s.cfg.Scope.Contains(c) {
							pend(c)
							queue = append(queue, walkItem{path: c, namedAt: n.lstat.Pzxid})
							pending++
						}
					}
				}
				cond.Broadcast()
				mu.Unlock()
				if err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	end := time.Now()
	sl, err = s.reserve(ctx)
	if err != nil {
		return err
	}
	sl.fill(result{kind: resWalkEnd, snapshot: id, time: end.UnixNano(), count: count})
	s.log.Info("walk finished", "znodes", count, "duration", end.Sub(start),
		"znodes-per-second", int(float64(count)/end.Sub(start).Seconds()))
	return nil
}

// walkItem is a path the walk has queued: a root, or a child named by the
// walk's listing of its parent, taken at pzxid namedAt.
type walkItem struct {
	path    string
	namedAt int64
}

// walkNode reserves p's slot, reads p and fills the slot. A read error is
// permanent (retries happen below): it fails the slot and the walk.
func (s *Source) walkNode(ctx context.Context, it walkItem, bulk aclReader, snap uint64) (nodeRead, error) {
	p := it.path
	sl, err := s.reserve(ctx)
	if err != nil {
		return nodeRead{}, err
	}
	n, err := s.readNode(ctx, p, bulk)
	n.walkNamed, n.namedAt = true, it.namedAt
	if err == nil && !n.exists && zkpath.IsRoot(s.roots, p) {
		err = s.watchRoot(ctx, p)
	}
	sl.fill(result{kind: resNodes, nodes: []nodeRead{n}, walk: true, snapshot: snap, err: err})
	return n, err
}

// readNode reads p's data with a data watch and its children with a child watch on
// the watching session, and its ACL on bulk (checked against the data read's
// stat). When p is replaced between these reads, it starts over, so a node that
// exists is returned whole; exists is false when p is gone.
func (s *Source) readNode(ctx context.Context, p string, bulk aclReader) (nodeRead, error) {
	for attempt := 0; ; attempt++ {
		n, replaced, err := s.readNodeOnce(ctx, p, bulk)
		if !replaced || err != nil {
			return n, err
		}
		if attempt == 10 {
			// Re-created faster than it can be read: the data watch already set
			// reports the next change, whose read publishes it.
			return nodeRead{path: p}, nil
		}
	}
}

func (s *Source) readNodeOnce(ctx context.Context, p string, bulk aclReader) (n nodeRead, replaced bool, err error) {
	n = nodeRead{path: p}
	data, st, err := s.getW(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return n, false, nil
	}
	if err != nil {
		return n, false, err
	}
	n.exists, n.hasData, n.stat, n.data = true, true, *st, data
	if mode, _ := modeOf(st.EphemeralOwner); mode == journal.ModeEphemeral {
		// Ephemerals have no children; a skipped one needs no ACL either.
		n.listed = true
		if s.cfg.Scope.EphemeralPolicyFor(p) == zkpath.EphemeralSkip {
			return n, false, nil
		}
	} else {
		kids, lst, err := s.childrenW(ctx, p)
		if errors.Is(err, zk.ErrNoNode) || err == nil && lst.Czxid != st.Czxid {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
		n.listed, n.kids, n.lstat = true, kids, *lst
	}
	acl, ast, err := s.getACL(ctx, bulk, p)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return n, false, err
	}
	if err != nil || ast.Czxid != st.Czxid || ast.Aversion < st.Aversion {
		acl, ast, err = s.getACL(ctx, s.conn, p)
		if errors.Is(err, zk.ErrNoNode) || err == nil && ast.Czxid != st.Czxid {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	n.acl, n.aclStat = acl, *ast
	return n, false, nil
}

// readSubtree reads p and everything below it in scope, parent first, on the
// watching session.
func (s *Source) readSubtree(ctx context.Context, p string) ([]nodeRead, error) {
	n, err := s.readNode(ctx, p, s.conn)
	if err != nil {
		return nil, err
	}
	if !n.exists && zkpath.IsRoot(s.roots, p) {
		if err := s.watchRoot(ctx, p); err != nil {
			return nil, err
		}
	}
	out := []nodeRead{n}
	if !n.exists {
		return out, nil
	}
	for _, k := range n.kids {
		c := zkpath.Child(p, k)
		if !s.cfg.Scope.Contains(c) {
			continue
		}
		sub, err := s.readSubtree(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	return out, nil
}

// watchRoot sets an exist watch on a missing include root, whose parent is not
// watched, so its creation is noticed.
func (s *Source) watchRoot(ctx context.Context, p string) error {
	return s.retry(ctx, "exists", p, func() error {
		_, _, _, err := s.conn.ExistsW(p)
		return err
	})
}

func (s *Source) getW(ctx context.Context, p string) (data []byte, st *zk.Stat, err error) {
	err = s.retry(ctx, "get", p, func() error {
		data, st, _, err = s.conn.GetW(p)
		return err
	})
	return data, st, err
}

func (s *Source) childrenW(ctx context.Context, p string) (kids []string, st *zk.Stat, err error) {
	err = s.retry(ctx, "children", p, func() error {
		kids, st, _, err = s.conn.ChildrenW(p)
		return err
	})
	return kids, st, err
}

func (s *Source) getACL(ctx context.Context, r aclReader, p string) (acl []zk.ACL, st *zk.Stat, err error) {
	err = s.retry(ctx, "get-acl", p, func() error {
		acl, st, err = r.GetACL(p)
		return err
	})
	return acl, st, err
}

// retry runs op until it succeeds, fails for good, or ctx ends. Connection loss and
// session expiry are retried (go-zookeeper reconnects by itself, with a new session
// after an expiry); ErrNoNode is returned as is; anything else wraps ErrRead.
func (s *Source) retry(ctx context.Context, op, p string, fn func() error) error {
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(20*time.Millisecond),
		backoff.WithMaxInterval(2*time.Second), backoff.WithMaxElapsedTime(0))
	err := backoff.RetryNotify(func() error {
		err := fn()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrNoNode):
			return backoff.Permanent(err)
		case transient(err):
			return err
		default:
			return backoff.Permanent(fmt.Errorf("%w: %s %s: %w", ErrRead, op, p, err))
		}
	}, backoff.WithContext(b, ctx), func(err error, d time.Duration) {
		s.retries.Add(1)
		now := time.Now().UnixNano()
		if last := s.lastRetryLog.Load(); now-last > int64(5*time.Second) && s.lastRetryLog.CompareAndSwap(last, now) {
			s.log.Warn("zookeeper read failed, retrying", "op", op, "zk-path", p, "error", err, "backoff", d)
		}
	})
	return err
}

// transient reports an error a read is retried after: the connection or the
// session went away. go-zookeeper hands a request the socket's own error when
// writing it fails (a *net.OpError such as "connection reset by peer"), and
// ErrConnectionClosed to the requests in flight when the connection drops.
func transient(err error) bool {
	for _, t := range []error{zk.ErrConnectionClosed, zk.ErrSessionExpired, zk.ErrNoServer, zk.ErrClosing, zk.ErrSessionMoved, zk.ErrNothing} {
		if errors.Is(err, t) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne)
}
