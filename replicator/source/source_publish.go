package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// nodeRead is what one read task learned about one path.
type nodeRead struct {
	path    string
	exists  bool
	hasData bool // stat, data (and acl when not nil) are valid
	stat    zk.Stat
	data    []byte
	acl     []zk.ACL // nil when not read
	aclStat zk.Stat  // stat returned with acl
	listed  bool     // children and listStat are valid
	vouched bool     // named by a listing of the parent applied just before
	// walkNamed marks a walk's read: the walk's listing of the parent, taken at
	// pzxid namedAt, named it (roots: namedAt 0).
	walkNamed bool
	namedAt   int64
	// absentAsOf, for a missing node, is a parent pzxid read before the node was
	// found missing: every incarnation created at or before it is gone.
	absentAsOf int64
	kids       []string
	lstat      zk.Stat
}

type resultKind uint8

const (
	resNodes resultKind = iota
	resHeartbeat
	resWalkBegin
	resWalkEnd
	resACL
)

// result fills a slot.
type result struct {
	kind     resultKind
	nodes    []nodeRead // parent first
	walk     bool       // from a walk: children come in later slots of their own
	snapshot uint64     // walk results and markers: the snapshot id, 0 for a re-walk
	rewatch  bool       // walk begin: the walk re-arms lost watches (no heartbeats until its end)
	zxid     int64      // heartbeat
	time     int64      // heartbeat write time, walk start/end
	count    uint64     // walk end: nodes read
	err      error
}

// slot is a place in the publish order, reserved before the read that fills it is
// issued: so a read's result is published before any notification its watch can
// cause.
type slot struct {
	done chan struct{}
	res  result
	at   time.Time // when it was filled: the read's reply was in
}

func (sl *slot) fill(r result) {
	sl.res, sl.at = r, time.Now()
	close(sl.done)
}

func (s *Source) reserve(ctx context.Context) (*slot, error) {
	sl := &slot{done: make(chan struct{})}
	select {
	case s.slots <- sl:
		return sl, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// publishLoop publishes slot results strictly in reservation order.
func (s *Source) publishLoop(ctx context.Context) error {
	for {
		var sl *slot
		select {
		case <-ctx.Done():
			return nil
		case sl = <-s.slots:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sl.done:
		}
		s.seen(sl.at)
		if sl.res.err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return sl.res.err
		}
		if err := s.apply(ctx, sl.res); err != nil {
			return err
		}
	}
}

func (s *Source) apply(ctx context.Context, r result) error {
	switch r.kind {
	case resNodes:
		if !r.walk {
			return s.applyNodes(ctx, r.nodes, r.snapshot, true)
		}
		p := r.nodes[0].path
		defer s.clearPending(p)
		// A walk that re-arms watches reads the children its listings name
		// itself (heartbeats wait for it). A snapshot taken with every watch in
		// place lets heartbeats go on, so a child its listing names that the
		// index lacks (created meanwhile) is read at once, as for a notification.
		if err := s.applyNodes(ctx, r.nodes, r.snapshot, !s.walking); err != nil {
			return err
		}
		if _, named := s.namedPending[p]; named {
			// A listing applied before this read named p and left it to the walk;
			// the walk did not find that node (it read p before it was created, or
			// its read was dropped): read it now.
			delete(s.namedPending, p)
			if _, ok := s.idx.get(p); !ok {
				return s.readAndApply(ctx, p, r.snapshot)
			}
		}
		return nil
	case resACL:
		return s.applyACL(ctx, r.nodes[0])
	case resHeartbeat:
		if s.walking {
			// A walk in progress may still publish changes older than this heartbeat.
			return nil
		}
		if err := s.emit(ctx, journal.Event{Kind: journal.KindHeartbeat, Path: zkpath.Heartbeat, Zxid: r.zxid, Time: r.time}); err != nil {
			return err
		}
		s.statsMu.Lock()
		s.hbZxid, s.hbTime = r.zxid, time.Unix(0, r.time)
		s.statsMu.Unlock()
		return s.flush(ctx)
	case resWalkBegin:
		// A walk that re-arms watches (bootstrap, session expiry) may publish
		// changes older than a heartbeat notified meanwhile. A snapshot taken
		// with every watch in place does not: each change still arrives by its
		// notification, in order, and the walk's reads are never older than what
		// is published (stale ones are read again), so heartbeats go on.
		s.walking = r.rewatch
		if r.snapshot != 0 {
			return s.emit(ctx, journal.Event{Kind: journal.KindSnapshotBegin, Snapshot: r.snapshot, Time: r.time})
		}
	case resWalkEnd:
		s.walking = false
		s.pendMu.Lock()
		clear(s.walkPending) // empty unless the walk was cut short
		s.pendMu.Unlock()
		clear(s.namedPending)
		if r.snapshot != 0 {
			if err := s.emit(ctx, journal.Event{Kind: journal.KindSnapshotEnd, Snapshot: r.snapshot, Time: r.time}); err != nil {
				return err
			}
		}
		s.statsMu.Lock()
		if r.snapshot != 0 {
			s.snapCount.Add(1)
			s.lastSnap = time.Unix(0, r.time)
		}
		if !s.bootstrapped {
			close(s.bootDone)
			s.bootstrapped = true
			s.bootNodes = r.count
			s.bootDur = time.Duration(r.time - int64(r.snapshot))
		}
		s.statsMu.Unlock()
		return s.flush(ctx)
	}
	return nil
}

// applyNodes applies reads in order. A listing applied here vouches for the
// children it names, so their reads in the same result may create them. With
// checkNew, children a listing names that are still unknown afterwards (their
// read raced with an earlier result) are read now, on the spot: rare, and safe
// because later stale reads are dropped.
func (s *Source) applyNodes(ctx context.Context, nodes []nodeRead, snap uint64, checkNew bool) error {
	vouched := map[string]struct{}{}
	var listed []int
	for i := range nodes {
		n := &nodes[i]
		if _, ok := vouched[n.path]; ok {
			n.vouched = true
		}
		fresh, err := s.applyNode(ctx, n, snap)
		if err != nil {
			return err
		}
		if !fresh {
			continue
		}
		listed = append(listed, i)
		for _, k := range n.kids {
			vouched[zkpath.Child(n.path, k)] = struct{}{}
		}
	}
	if !checkNew {
		return nil
	}
	for _, i := range listed {
		n := &nodes[i]
		for _, k := range n.kids {
			c := zkpath.Child(n.path, k)
			if _, ok := s.idx.get(c); ok || !s.cfg.Scope.Contains(c) {
				continue
			}
			if s.isPending(c) {
				// The walk reads it; if that read misses this node, apply reads it.
				s.namedPending[c] = struct{}{}
				continue
			}
			if err := s.readAndApply(ctx, c, snap); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAndApply reads p's subtree now and applies it. A read made here is newer
// than every read already applied, so no applied listing can contradict it.
func (s *Source) readAndApply(ctx context.Context, p string, snap uint64) error {
	sub, err := s.readSubtree(ctx, p)
	if err != nil {
		return err
	}
	sub[0].vouched = true
	return s.applyNodes(ctx, sub, snap, true)
}

// reread reads p alone (data and listing, with watches) now and applies it:
// a read made here is newer than every read already applied. Children the
// listing names and the index lacks are read too, unless the walk has them.
func (s *Source) reread(ctx context.Context, p string, snap uint64) error {
	n, err := s.readNode(ctx, p, s.conn)
	if err == nil && !n.exists && zkpath.IsRoot(s.roots, p) {
		err = s.watchRoot(ctx, p)
	}
	if err != nil {
		return err
	}
	n.vouched = true
	return s.applyNodes(ctx, []nodeRead{n}, snap, true)
}

// applyNode compares one read with the index and publishes what changed. Reads can
// be older than what is already published (reads are pipelined): a smaller czxid,
// or the same czxid with a smaller mzxid, is stale and dropped; a larger czxid is a
// delete and re-create; an unknown node created no later than the newest listing
// of its parent already applied, which did not name it, was deleted since. fresh
// reports that n's listing was applied (it was not older than the last one).
func (s *Source) applyNode(ctx context.Context, n *nodeRead, snap uint64) (fresh bool, err error) {
	root := zkpath.IsRoot(s.roots, n.path)
	e, ok := s.idx.get(n.path)
	if n.walkNamed && snap != 0 && ok && (!n.exists || n.stat.Czxid < e.czxid || n.stat.Czxid == e.czxid && n.stat.Mzxid < e.mzxid) {
		// A snapshot's read older than what is already published: the snapshot
		// must still mention the node (the applier deletes what it does not), with
		// a state no older than the published one. Read it again.
		s.log.Trace("snapshot read older than published: reading again", "zk-path", n.path)
		return false, s.reread(ctx, n.path, snap)
	}
	if !n.exists {
		// Deletes below a root show in the parent's listing; a root has no watched parent.
		if ok && (root || e.czxid <= n.absentAsOf) {
			return false, s.deletePath(ctx, n.path, max(e.mzxid, n.absentAsOf), max(e.czxid, n.absentAsOf), e.skipped)
		}
		return false, nil
	}
	czxid := n.stat.Czxid
	if !n.hasData {
		czxid = n.lstat.Czxid
	}
	if !root {
		pe, pok := s.idx.get(zkpath.Parent(n.path))
		if !pok {
			s.log.Trace("stale read dropped: parent gone", "zk-path", n.path)
			return false, nil
		}
		if !ok && czxid <= pe.pzxid {
			switch {
			case n.vouched:
			case n.walkNamed && n.namedAt >= pe.pzxid:
				// The walk's listing is still the newest applied: it named the node.
			case n.walkNamed:
				// A newer listing was applied since the walk's, and this read may be
				// older than it. That listing left the node to the walk (it was
				// pending), so nothing else reads it: read it now.
				s.log.Trace("walk read superseded: reading again", "zk-path", n.path, "czxid", czxid, "parent-pzxid", pe.pzxid, "walk-pzxid", n.namedAt)
				return false, s.reread(ctx, n.path, snap)
			default:
				s.log.Trace("stale read dropped: not in a newer listing", "zk-path", n.path, "czxid", czxid, "parent-pzxid", pe.pzxid)
				return false, nil
			}
		}
		if !ok && czxid > pe.pzxid {
			// Created after the newest listing of its parent applied, so no listing
			// vouches for it: it may even hang under a newer incarnation of the
			// parent (deleted and re-created since that listing). The parent's
			// child watch, armed by that listing, reports the creation; the
			// listing read for it names the node and reads it then.
			s.log.Trace("read dropped: created after the parent's listing", "zk-path", n.path, "czxid", czxid, "parent-pzxid", pe.pzxid)
			return false, nil
		}
	}
	if gone, dead := s.tombs[n.path]; !ok && dead && czxid <= gone {
		s.log.Trace("stale read dropped: incarnation deleted", "zk-path", n.path, "czxid", czxid)
		return false, nil
	}
	if ok && czxid < e.czxid {
		s.log.Trace("stale read dropped: older incarnation", "zk-path", n.path, "czxid", czxid, "index-czxid", e.czxid)
		return false, nil
	}
	if ok && czxid > e.czxid {
		if err := s.deletePath(ctx, n.path, czxid, e.czxid, e.skipped); err != nil {
			return false, err
		}
		ok = false
	}
	if !ok && (!n.hasData || !n.listed) {
		// Not enough to publish a create (a notification raced with a re-create):
		// read the whole node and its subtree.
		return false, s.readAndApply(ctx, n.path, snap)
	}
	if n.hasData {
		if err := s.applyData(ctx, n, e, ok, root, snap); err != nil {
			return false, err
		}
		e, ok = s.idx.get(n.path)
	}
	if n.listed && ok && !e.skipped {
		return s.applyListing(ctx, n, e, root)
	}
	return false, nil
}

func (s *Source) applyData(ctx context.Context, n *nodeRead, e entry, known, root bool, snap uint64) error {
	mode, ttl := s.nodeMode(n.path, n.stat.EphemeralOwner)
	skip := mode == journal.ModeEphemeral && s.cfg.Scope.EphemeralPolicyFor(n.path) == zkpath.EphemeralSkip
	if !known {
		// pzxid stays 0 here: applyListing sets it from the listing.
		ne := entry{czxid: n.stat.Czxid, mzxid: n.stat.Mzxid,
			cversion: n.stat.Cversion, aversion: n.stat.Aversion, skipped: skip}
		if !skip {
			if err := s.ensureACL(ctx, n); err != nil {
				return err
			}
			ne.acl = s.idx.internACL(n.acl)
			ne.aversion = n.aclStat.Aversion
		}
		s.idx.put(n.path, ne, root)
		if skip {
			return nil
		}
		kind, zxid := journal.KindCreate, n.stat.Czxid
		if snap != 0 {
			kind, zxid = journal.KindSnapshotNode, n.stat.Mzxid
		}
		return s.emit(ctx, s.nodeEvent(kind, n, n.acl, mode, ttl, zxid, snap))
	}
	if n.stat.Mzxid < e.mzxid {
		return nil // stale
	}
	dataNew := n.stat.Mzxid > e.mzxid
	if n.acl == nil && n.stat.Aversion > e.aversion && !e.skipped {
		if err := s.ensureACL(ctx, n); err != nil {
			return err
		}
	}
	aclNew := n.acl != nil && n.aclStat.Aversion > e.aversion
	e.mzxid = n.stat.Mzxid
	if aclNew {
		e.aversion, e.acl = n.aclStat.Aversion, s.idx.internACL(n.acl)
	}
	s.idx.put(n.path, e, root)
	if e.skipped {
		return nil
	}
	acl := s.idx.aclOf(e.acl)
	switch {
	case snap != 0:
		return s.emit(ctx, s.nodeEvent(journal.KindSnapshotNode, n, acl, mode, ttl, n.stat.Mzxid, snap))
	case dataNew:
		return s.emit(ctx, s.nodeEvent(journal.KindUpdate, n, acl, mode, ttl, n.stat.Mzxid, 0))
	case aclNew:
		return s.emit(ctx, s.nodeEvent(journal.KindACL, n, acl, mode, ttl, n.stat.Mzxid, 0))
	}
	return nil
}

// ensureACL reads n's ACL on the watching session when the task did not.
func (s *Source) ensureACL(ctx context.Context, n *nodeRead) error {
	if n.acl != nil {
		return nil
	}
	acl, st, err := s.getACL(ctx, s.conn, n.path)
	if err != nil && err != zk.ErrNoNode {
		return err
	}
	if err == zk.ErrNoNode {
		// Gone since the read; its delete follows from the parent's listing. Publish
		// it with an empty ACL for now rather than not at all.
		acl, st = []zk.ACL{}, &n.stat
	}
	n.acl, n.aclStat = acl, *st
	return nil
}

// applyListing publishes deletes for known children missing from the listing. A
// child created after the listing was taken (czxid > the listing's pzxid) is not
// in it and is kept. A listing older than the last one applied is ignored. The
// entry's pzxid is the pzxid of the newest listing applied.
func (s *Source) applyListing(ctx context.Context, n *nodeRead, e entry, root bool) (bool, error) {
	if n.lstat.Pzxid < e.pzxid {
		s.log.Trace("stale listing ignored", "zk-path", n.path, "pzxid", n.lstat.Pzxid, "index-pzxid", e.pzxid)
		return false, nil
	}
	e.pzxid, e.cversion = n.lstat.Pzxid, n.lstat.Cversion
	s.idx.put(n.path, e, root)
	known := s.idx.children(n.path)
	if len(known) == 0 {
		return true, nil
	}
	present := make(map[string]struct{}, len(n.kids))
	for _, k := range n.kids {
		present[k] = struct{}{}
	}
	for _, k := range known {
		if _, ok := present[k]; ok {
			continue
		}
		c := zkpath.Child(n.path, k)
		ce, ok := s.idx.get(c)
		if !ok || ce.czxid > n.lstat.Pzxid {
			continue
		}
		if err := s.deletePath(ctx, c, n.lstat.Pzxid, n.lstat.Pzxid, ce.skipped); err != nil {
			return false, err
		}
	}
	return true, nil
}

// deletePath drops p's subtree from the index and publishes its delete. gone
// says which incarnations of p are known to be gone (every one created at or
// before it): a read showing one of them alive is older than that knowledge.
func (s *Source) deletePath(ctx context.Context, p string, zxid, gone int64, skipped bool) error {
	s.idx.drop(p)
	if len(s.tombs) >= maxTombstones {
		clear(s.tombs) // forgetting only costs a stale read published and soon deleted again
	}
	s.tombs[p] = max(s.tombs[p], gone)
	if skipped {
		return nil
	}
	return s.emit(ctx, journal.Event{Kind: journal.KindDelete, Path: p, Zxid: zxid})
}

func (s *Source) applyACL(ctx context.Context, n nodeRead) error {
	e, ok := s.idx.get(n.path)
	if !ok || e.skipped || e.czxid != n.aclStat.Czxid || n.aclStat.Aversion <= e.aversion {
		return nil
	}
	e.aversion, e.acl = n.aclStat.Aversion, s.idx.internACL(n.acl)
	s.idx.put(n.path, e, zkpath.IsRoot(s.roots, n.path))
	mode, ttl := s.nodeMode(n.path, n.aclStat.EphemeralOwner)
	n.stat = n.aclStat
	return s.emit(ctx, s.nodeEvent(journal.KindACL, &n, n.acl, mode, ttl, n.aclStat.Mzxid, 0))
}

func (s *Source) nodeEvent(kind journal.Kind, n *nodeRead, acl []zk.ACL, mode journal.Mode, ttl, zxid int64, snap uint64) journal.Event {
	ev := journal.Event{
		Kind:       kind,
		Path:       n.path,
		ACL:        acl,
		Mode:       mode,
		Sequential: isSequentialName(path.Base(n.path)),
		TTL:        ttl,
		Stat:       toStat(n.stat),
		Zxid:       zxid,
		Snapshot:   snap,
	}
	if kind != journal.KindACL {
		ev.Data = n.data
	}
	return ev
}

// emit publishes ev, read when the publish loop last stamped (seen): the
// appender times read → appended from there. A create or an update also
// times commit → seen: from the node's mtime (the leader's clock at the
// transaction, in milliseconds) to that stamp.
func (s *Source) emit(ctx context.Context, ev journal.Event) error {
	ev.Site, ev.Epoch = s.cfg.Site, s.cfg.Epoch
	var err error
	if s.stagePub != nil && s.readNs != 0 {
		err = s.stagePub.AppendRead(ctx, ev, s.readAt)
	} else {
		err = s.pub.Append(ctx, ev)
	}
	if err != nil {
		return publishFailed("publish", fmt.Errorf("%w: %s %s: %w", ErrPublish, ev.Kind, ev.Path, err))
	}
	s.published.Add(1)
	switch ev.Kind {
	case journal.KindCreate, journal.KindUpdate:
		if s.readNs != 0 && ev.Stat.Mtime > 0 {
			s.commitSeen.Observe(time.Duration(s.readNs - ev.Stat.Mtime*int64(time.Millisecond)))
		}
		s.changes.Add(1)
	case journal.KindDelete, journal.KindACL:
		s.changes.Add(1)
	}
	return nil
}

func (s *Source) flush(ctx context.Context) error {
	if err := s.pub.Flush(ctx); err != nil {
		return publishFailed("flush", fmt.Errorf("%w: flush: %w", ErrPublish, err))
	}
	return nil
}

// publishFailed decides whether a publish error stops the source for good: a
// journal that a newer writer fenced (journal.ErrFenced) or whose lineage
// moved to a higher epoch (journal.ErrStaleEpoch) will refuse this source
// however often it runs again, so those come back as a permanent
// replicator.StopError, still matching the journal's sentinel with errors.Is.
// Any other publish error stops this run only.
func publishFailed(op string, err error) error {
	if errors.Is(err, journal.ErrFenced) || errors.Is(err, journal.ErrStaleEpoch) {
		return &replicator.StopError{Component: "source", Op: op, Permanent: true, Err: err}
	}
	return err
}

func toStat(st zk.Stat) journal.Stat {
	return journal.Stat{Czxid: st.Czxid, Mzxid: st.Mzxid, Pzxid: st.Pzxid, Ctime: st.Ctime, Mtime: st.Mtime,
		Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion}
}

// Special ephemeralOwner values, from ZooKeeper 3.8's EphemeralType: a container's
// owner is Long.MIN_VALUE; a TTL node's high byte is 0xFF with the extended-type
// bits (0x00FFFF0000000000) zero and the ttl in milliseconds in the low 40 bits.
const (
	containerOwner = math.MinInt64
	extendedMask   = 0xff00000000000000
	extendedBits   = 0x00ffff0000000000
	ttlMask        = 0x000000ffffffffff
)

// modeOf derives a node's mode (and ttl) from its stat's ephemeralOwner.
// nodeMode is the mode a node at p with this ephemeral owner is published
// with: ZooKeeper 3.5+ reports container and TTL nodes as persistent (owner 0),
// so for those the scope's declared mode rules decide.
func (s *Source) nodeMode(p string, owner int64) (journal.Mode, int64) {
	mode, ttl := modeOf(owner)
	if mode != journal.ModePersistent {
		return mode, ttl
	}
	switch declared, ttl := s.cfg.Scope.ModeFor(p); declared {
	case zkpath.ModeContainer:
		return journal.ModeContainer, 0
	case zkpath.ModeTTL:
		return journal.ModeTTL, ttl
	}
	return journal.ModePersistent, 0
}

func modeOf(owner int64) (journal.Mode, int64) {
	u := uint64(owner)
	switch {
	case owner == 0:
		return journal.ModePersistent, 0
	case owner == containerOwner:
		return journal.ModeContainer, 0
	case u&extendedMask == extendedMask && u&extendedBits == 0:
		return journal.ModeTTL, int64(u & ttlMask)
	default:
		return journal.ModeEphemeral, 0
	}
}

// isSequentialName reports whether a name ends in the 10 digits a sequential
// create appends.
func isSequentialName(name string) bool {
	if len(name) < 10 {
		return false
	}
	for _, c := range name[len(name)-10:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
