package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zkwire"
	"github.com/zkdr/zkdr/journal"
)

// publishLoop applies jobs in issue order. Every multiRead is applied only if
// it was issued after every one applied before it (a read retried after a
// lost connection is issued again, and so is each later one issued before
// the retry): then each read shows the tree no earlier than the reads already
// applied, which is what the rules in applyRead rest on.
func (w *watcher) publishLoop(ctx context.Context) error {
	s := w.s
	var applied uint64
	// catchUp: the session reconnected and a catch-up walk has not begun.
	catchUp := false
	for {
		var j *job
		select {
		case <-ctx.Done():
			return nil
		case j = <-w.jobs:
		}
		switch j.kind {
		case jobReads: // stamped in applyJob
		case jobHeartbeat:
			s.seen(j.hb.seen)
		default:
			s.seen(time.Now())
		}
		var err error
		switch j.kind {
		case jobReads:
			err = w.applyJob(ctx, j, &applied)
		case jobWalkBegin:
			if j.begin.rewatch {
				catchUp = false
			}
			err = s.apply(ctx, j.begin)
		case jobHold:
			catchUp = true
		case jobHeartbeat:
			if !catchUp {
				err = s.apply(ctx, result{kind: resHeartbeat, zxid: j.hb.zxid, time: j.hb.time})
			}
		case jobACL:
			err = s.applyACL(ctx, j.acl)
		}
		if err != nil {
			return ignoreDone(ctx, err)
		}
	}
}

// applyJob waits for j's reads (reading again where needed) and applies them.
func (w *watcher) applyJob(ctx context.Context, j *job, applied *uint64) error {
	s := w.s
	var rs []zkwire.ReadResult
	failed, resent := false, false
	err := s.retry(ctx, "multi-read", j.items[0].path, func() error {
		if failed || j.issue < *applied {
			w.send(j)
			resent = true
		}
		var err error
		rs, err = j.read.Wait(ctx) // zkwire checks one result per op
		failed = err != nil
		return err
	})
	if err != nil {
		return err
	}
	if at := j.arrived.Load(); at != 0 && !resent {
		s.seen(time.Unix(0, at))
	} else {
		s.seen(time.Now()) // the stamp loop is behind, or this is a read sent again
	}
	*applied = j.issue
	// The reply's zxid is the server's last applied transaction when it read:
	// no smaller than a delete found here.
	zxid := j.read.Zxid()
	var (
		kids  []string
		found uint64
	)
	snap := w.walkSnap(j)
	for i := range j.items {
		it := &j.items[i]
		exists, err := w.applyRead(ctx, it, rs[it.op], zxid, snap)
		if err != nil {
			return err
		}
		if !j.walk || !exists {
			continue
		}
		found++
		s.walkNodes.Add(1)
		kids, err = w.applyListing(ctx, it.path, rs[it.op+1], zxid, kids)
		if err != nil {
			return err
		}
	}
	if !j.walk {
		return nil
	}
	end, id, count, start := w.walkApplied(len(j.items), found, kids)
	w.walk.poke()
	if !end {
		return nil
	}
	now := time.Now()
	s.log.Info("walk finished", "znodes", count, "duration", now.Sub(start),
		"znodes-per-second", int(float64(count)/max(now.Sub(start).Seconds(), 1e-9)))
	s.walkActive.Store(false)
	return s.apply(ctx, result{kind: resWalkEnd, snapshot: id, time: now.UnixNano(), count: count})
}

// walkSnap is the snapshot id a walk step publishes under (0: not a snapshot).
func (w *watcher) walkSnap(j *job) uint64 {
	if !j.walk {
		return 0
	}
	w.walk.mu.Lock()
	defer w.walk.mu.Unlock()
	return w.walk.id
}

// applyRead publishes what one read of p shows, given that it is no older
// than anything applied before it (see doc.go, "Recursive watch"):
//   - p missing: the incarnation the index holds is gone; delete it (and its
//     subtree: none of its children can be alive).
//   - an unknown p whose parent the index lacks: dropped. The parent was
//     created after the read this came from was issued, so its own create and
//     then p's are still to come.
//   - an unknown p: create; a known one: update, or acl when only the ACL
//     moved; in a snapshot, snapshot-node either way.
//   - another incarnation of a known p: delete and create, unless the index
//     holds children of p, which then belong to a newer incarnation than the
//     index's (the old one's children were all deleted before it, each
//     reported by its own notification): p is updated in place instead.
//
// exists reports that p is present in the index afterwards, not skipped.
func (w *watcher) applyRead(ctx context.Context, it *readItem, r zkwire.ReadResult, zxid int64, snap uint64) (exists bool, err error) {
	s := w.s
	p := it.path
	root := zkpath.IsRoot(s.roots, p)
	e, known := s.idx.get(p)
	if errors.Is(r.Err, zk.ErrNoNode) {
		if known {
			return false, s.deletePath(ctx, p, zxid, zxid, e.skipped)
		}
		return false, nil
	}
	if r.Err != nil {
		return false, fmt.Errorf("%w: get %s: %w", ErrRead, p, r.Err)
	}
	st := r.Stat
	mode, ttl := s.nodeMode(p, st.EphemeralOwner)
	skip := mode == journal.ModeEphemeral && s.cfg.Scope.EphemeralPolicyFor(p) == zkpath.EphemeralSkip
	if known && st.Czxid != e.czxid {
		if st.Czxid < e.czxid {
			return !e.skipped, nil // older than the index: cannot happen on one session
		}
		if e.skipped || mode == journal.ModeEphemeral || len(s.idx.children(p)) == 0 {
			if err := s.deletePath(ctx, p, st.Czxid, e.czxid, e.skipped); err != nil {
				return false, err
			}
			known = false
		} else {
			// Keep the children; the new incarnation's data and ACL overwrite.
			e.czxid, e.mzxid, e.aversion = st.Czxid, -1, -1
		}
	}
	if !known && !root {
		if pe, ok := s.idx.get(zkpath.Parent(p)); !ok || pe.skipped {
			s.log.Trace("read dropped: parent not published yet", "zk-path", p)
			return false, nil
		}
	}
	n := nodeRead{path: p, exists: true, hasData: true, stat: st, data: r.Data}
	if !known {
		ne := entry{czxid: st.Czxid, mzxid: st.Mzxid, pzxid: st.Pzxid, cversion: st.Cversion, aversion: st.Aversion, skipped: skip}
		if !skip {
			acl, ast, alive, err := w.aclFor(ctx, it, st)
			if err != nil || !alive {
				return false, err
			}
			ne.acl, ne.aversion = s.idx.internACL(acl), ast.Aversion
			n.acl = acl
		}
		s.idx.put(p, ne, root)
		if skip {
			return false, nil
		}
		kind, ez := journal.KindCreate, st.Czxid
		if snap != 0 {
			kind, ez = journal.KindSnapshotNode, st.Mzxid
		}
		return true, s.emit(ctx, s.nodeEvent(kind, &n, n.acl, mode, ttl, ez, snap))
	}
	if e.skipped {
		e.mzxid = max(e.mzxid, st.Mzxid)
		s.idx.put(p, e, root)
		return false, nil
	}
	if st.Mzxid < e.mzxid && snap == 0 {
		return true, nil // older than the index: cannot happen on one session
	}
	dataNew := st.Mzxid > e.mzxid
	aclNew := false
	if st.Aversion > e.aversion {
		acl, ast, alive, err := w.aclFor(ctx, it, st)
		if err != nil {
			return false, err
		}
		if alive && ast.Aversion > e.aversion {
			e.acl, e.aversion, aclNew = s.idx.internACL(acl), ast.Aversion, true
		}
	}
	e.mzxid = max(e.mzxid, st.Mzxid)
	e.pzxid, e.cversion = st.Pzxid, st.Cversion
	s.idx.put(p, e, root)
	switch {
	case snap != 0:
		return true, s.emit(ctx, s.nodeEvent(journal.KindSnapshotNode, &n, s.idx.aclOf(e.acl), mode, ttl, st.Mzxid, snap))
	case dataNew:
		return true, s.emit(ctx, s.nodeEvent(journal.KindUpdate, &n, s.idx.aclOf(e.acl), mode, ttl, st.Mzxid, 0))
	case aclNew:
		return true, s.emit(ctx, s.nodeEvent(journal.KindACL, &n, s.idx.aclOf(e.acl), mode, ttl, st.Mzxid, 0))
	}
	return true, nil
}

// aclFor returns p's ACL for the incarnation st describes: the one read with
// it when that read is of the same incarnation and not older, otherwise read
// now on the watching session. alive is false when that incarnation is gone
// by then (its delete is reported by its own notification).
func (w *watcher) aclFor(ctx context.Context, it *readItem, st zk.Stat) (acl []zk.ACL, ast zk.Stat, alive bool, err error) {
	if it.acl != nil {
		a, err := it.acl.Wait(ctx)
		if err == nil && a.Stat.Czxid == st.Czxid && a.Stat.Aversion >= st.Aversion {
			return a.ACL, a.Stat, true, nil
		}
		if ctx.Err() != nil {
			return nil, ast, false, ctx.Err()
		}
	}
	var a zkwire.ACLs
	err = w.s.retry(ctx, "get-acl", it.path, func() (err error) {
		a, err = w.conn.GetACL(it.path).Wait(ctx)
		return err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return nil, ast, false, nil
	}
	if err != nil {
		return nil, ast, false, err
	}
	return a.ACL, a.Stat, a.Stat.Czxid == st.Czxid, nil
}

// applyListing compares a walk's listing of p with the index: a known child
// it does not name was read before it and is gone (deleted, with its
// subtree). It returns kids with p's children in scope appended.
func (w *watcher) applyListing(ctx context.Context, p string, r zkwire.ReadResult, zxid int64, kids []string) ([]string, error) {
	s := w.s
	if errors.Is(r.Err, zk.ErrNoNode) {
		// Deleted between the two reads of the step.
		if e, ok := s.idx.get(p); ok {
			return kids, s.deletePath(ctx, p, zxid, zxid, e.skipped)
		}
		return kids, nil
	}
	if r.Err != nil {
		return kids, fmt.Errorf("%w: children %s: %w", ErrRead, p, r.Err)
	}
	if known := s.idx.children(p); len(known) > 0 {
		present := make(map[string]struct{}, len(r.Children))
		for _, k := range r.Children {
			present[k] = struct{}{}
		}
		for _, k := range known {
			if _, ok := present[k]; ok {
				continue
			}
			c := zkpath.Child(p, k)
			if ce, ok := s.idx.get(c); ok {
				if err := s.deletePath(ctx, c, zxid, zxid, ce.skipped); err != nil {
					return kids, err
				}
			}
		}
	}
	for _, k := range r.Children {
		if c := zkpath.Child(p, k); s.cfg.Scope.Contains(c) {
			kids = append(kids, c)
		}
	}
	return kids, nil
}
