package daemon

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/replicator/applier"
)

// aeHeartbeatPath is the node the active site's source writes every
// heartbeat interval; its mzxid is the zxid a watermark is compared with.
const aeHeartbeatPath = zkpath.Heartbeat

// aeUnit is one piece of a pass: a replicated source subtree, or with nodeOnly
// a single node without its children, and where the standby holds it.
type aeUnit struct {
	src, dst string
	nodeOnly bool
}

// aeRead is one unit as read on both sides, keyed relative to the unit's root.
type aeRead struct {
	unit    aeUnit
	active  zktree.StampedTree
	standby zktree.StampedTree
	// anchor is set when the unit's root was absent on the active side: the
	// nearest existing ancestor, whose children then did not lead to the root.
	anchor *aeAnchor
}

type aeAnchor struct {
	path  string
	stamp zktree.Stamp
}

// aePass is one comparison; it owns nothing but borrows both sessions.
type aePass struct {
	cfg    *AntiEntropyConfig
	m      zkpath.Mapper
	act    *zk.Conn
	stb    *zk.Conn
	pa, ps zktree.Pacer
	rep    AntiEntropyReport
}

// run compares the whole replicated scope, chunk after chunk.
func (p *aePass) run(ctx context.Context) error {
	units, err := p.units(ctx)
	if err != nil {
		return err
	}
	var (
		chunk []*aeRead
		nodes int
	)
	for i, u := range units {
		r, err := p.readActive(ctx, u)
		if err != nil {
			return err
		}
		chunk = append(chunk, r)
		nodes += len(r.active.Tree)
		if nodes >= p.cfg.ChunkNodes || i == len(units)-1 {
			if err := p.compare(ctx, chunk); err != nil {
				return err
			}
			chunk, nodes = nil, 0
		}
	}
	return nil
}

// units splits the scope into its roots (each compared as a node alone) and
// the subtrees of their children, so that memory and the window between the
// two sides' reads stay bounded by a chunk. Children are listed on both sides:
// a subtree that exists only on the standby is a unit too. A subtree holding
// a moved prefix (replication.mapping) is split further down to it.
func (p *aePass) units(ctx context.Context) ([]aeUnit, error) {
	var out []aeUnit
	var expand func(src string) error
	expand = func(src string) error {
		dst := p.m.Map(src)
		out = append(out, aeUnit{src: src, dst: dst, nodeOnly: true})
		names := map[string]bool{}
		kids, err := p.children(ctx, p.act, p.pa, src)
		if err != nil {
			return err
		}
		for _, k := range kids {
			names[k] = true
		}
		skids, err := p.children(ctx, p.stb, p.ps, dst)
		if err != nil {
			return err
		}
		for _, k := range skids {
			if s, ok := p.m.Source(path.Join(dst, k)); ok && path.Dir(s) == src {
				names[path.Base(s)] = true
			}
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			c := path.Join(src, n)
			switch {
			case !p.m.Scope.Contains(c):
			case p.m.MovedBelow(c):
				if err := expand(c); err != nil {
					return err
				}
			default:
				out = append(out, aeUnit{src: c, dst: p.m.Map(c)})
			}
		}
		return nil
	}
	for _, r := range p.m.Scope.Roots() {
		if err := expand(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *aePass) children(ctx context.Context, conn *zk.Conn, pace zktree.Pacer, at string) ([]string, error) {
	if err := pace.Wait(ctx); err != nil {
		return nil, err
	}
	kids, _, err := conn.Children(at)
	if errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrNoAuth) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", at, err)
	}
	return kids, nil
}

// readActive reads a unit on the active side and applies the ephemeral policy:
// skipped ephemerals are left out, replicated ones compare as the persistent
// nodes the standby holds.
func (p *aePass) readActive(ctx context.Context, u aeUnit) (*aeRead, error) {
	skip := append(zkpath.AlwaysExcluded(), p.m.Scope.Exclude...)
	st, err := p.read(ctx, p.act, p.pa, u.src, u.nodeOnly, zktree.Options{Skip: skip, KeepEphemeral: true})
	if err != nil {
		return nil, err
	}
	for rel, n := range st.Tree {
		if !zktree.IsSessionEphemeral(n.EphemeralOwner) {
			continue
		}
		if p.m.Scope.EphemeralPolicyFor(joinRel(u.src, rel)) == zkpath.EphemeralPersistent {
			n.EphemeralOwner = 0
			st.Tree[rel] = n
		} else {
			delete(st.Tree, rel)
			delete(st.Stamps, rel)
		}
	}
	r := &aeRead{unit: u, active: st}
	if _, ok := st.Tree["/"]; !ok && len(st.Unreadable) == 0 {
		if r.anchor, err = p.anchor(ctx, u.src); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readStandby reads a unit on the standby, keeping only the nodes that stand
// for replicated source paths of the unit.
func (p *aePass) readStandby(ctx context.Context, u aeUnit) (zktree.StampedTree, error) {
	skip := append(zkpath.AlwaysExcluded(), p.m.ForeignBelow(u.src, u.dst)...)
	for _, e := range p.m.Scope.Exclude {
		skip = append(skip, p.m.Map(e))
	}
	st, err := p.read(ctx, p.stb, p.ps, u.dst, u.nodeOnly, zktree.Options{Skip: skip})
	if err != nil {
		return st, err
	}
	for rel := range st.Tree {
		if s, ok := p.m.Source(joinRel(u.dst, rel)); !ok || s != joinRel(u.src, rel) {
			delete(st.Tree, rel)
			delete(st.Stamps, rel)
		}
	}
	return st, nil
}

func (p *aePass) read(ctx context.Context, conn *zk.Conn, pace zktree.Pacer, root string, nodeOnly bool, opts zktree.Options) (zktree.StampedTree, error) {
	if !nodeOnly {
		return zktree.WalkStamped(ctx, conn, root, opts, pace)
	}
	st := zktree.StampedTree{Tree: zktree.Tree{}, Stamps: map[string]zktree.Stamp{}}
	n, s, _, err := zktree.ReadStamped(ctx, conn, root, false, pace)
	switch {
	case errors.Is(err, zk.ErrNoNode):
	case errors.Is(err, zk.ErrNoAuth):
		st.Unreadable = []string{"/"}
	case err != nil:
		return st, fmt.Errorf("read %s: %w", root, err)
	case zktree.IsSessionEphemeral(n.EphemeralOwner) && !opts.KeepEphemeral:
	default:
		st.Tree["/"], st.Stamps["/"] = n, s
	}
	return st, nil
}

// anchor finds the nearest existing ancestor of src on the active side and
// keeps its stamp if its children do not lead to src; nil when they do (src
// was created meanwhile) or when src is the root.
func (p *aePass) anchor(ctx context.Context, src string) (*aeAnchor, error) {
	child := src
	for x := path.Dir(src); child != "/"; x = path.Dir(x) {
		_, s, kids, err := zktree.ReadStamped(ctx, p.act, x, true, p.pa)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			child = x
			continue
		case errors.Is(err, zk.ErrNoAuth):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", x, err)
		}
		for _, k := range kids {
			if k == path.Base(child) {
				return nil, nil
			}
		}
		return &aeAnchor{path: x, stamp: s}, nil
	}
	return nil, nil
}

// aeCandidate is a difference seen between the two reads, still to confirm.
type aeCandidate struct {
	r    *aeRead
	rel  string
	what string
}

// compare finishes a chunk whose active side is read: it waits until the
// standby holds every change the active reads saw, reads the standby, and
// confirms each difference on the active side (see AntiEntropy).
func (p *aePass) compare(ctx context.Context, chunk []*aeRead) error {
	h, err := p.nextHeartbeat(ctx)
	if err != nil {
		return err
	}
	if err := p.waitWatermark(ctx, h); err != nil {
		return err
	}
	var cands []aeCandidate
	for _, r := range chunk {
		if r.standby, err = p.readStandby(ctx, r.unit); err != nil {
			return err
		}
		a, b := r.active.Tree, r.standby.Tree
		for _, u := range append(r.active.Unreadable, r.standby.Unreadable...) {
			p.rep.Unreadable++
			for _, t := range []zktree.Tree{a, b} {
				for rel := range t {
					if zkpath.Under(rel, u) {
						delete(t, rel)
					}
				}
			}
		}
		p.rep.NodesCompared += len(a)
		for rel := range b {
			if _, ok := a[rel]; !ok {
				p.rep.NodesCompared++
			}
		}
		// Equal Merkle roots: the unit is equal, node by node.
		if len(a) > 0 && len(b) > 0 && a.Digests()["/"] == b.Digests()["/"] {
			continue
		}
		for _, d := range zktree.Diff(a, b) {
			cands = append(cands, aeCandidate{r: r, rel: d.Path, what: diffKind(d.What)})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	// The standby was read before this sync: every change the standby could
	// hold is visible to the reads below.
	if _, err := p.act.Sync("/"); err != nil {
		return fmt.Errorf("sync the active site: %w", err)
	}
	reread := map[string]*aeStamped{}
	for _, c := range cands {
		ok, err := p.confirm(ctx, c, reread)
		if err != nil {
			return err
		}
		if !ok {
			p.rep.Unsettled++
			continue
		}
		p.rep.Divergent++
		if len(p.rep.Paths) < p.cfg.MaxPaths {
			src := joinRel(c.r.unit.src, c.rel)
			dn := AntiEntropyNode{Path: src, What: c.what}
			if dst := joinRel(c.r.unit.dst, c.rel); dst != src {
				dn.StandbyPath = dst
			}
			p.rep.Paths = append(p.rep.Paths, dn)
		}
	}
	return nil
}

type aeStamped struct {
	stamp  zktree.Stamp
	exists bool
}

// confirm re-reads the active side after the standby read and says whether a
// difference is real: the node (or, for a node only the standby holds, the
// nearest ancestor the active side had) is unchanged since the first read, so
// the active side held that state all the while the standby was read.
func (p *aePass) confirm(ctx context.Context, c aeCandidate, cache map[string]*aeStamped) (bool, error) {
	at, before := "", zktree.Stamp{}
	same := func(a, b zktree.Stamp) bool {
		return a.Czxid == b.Czxid && a.Version == b.Version && a.Aversion == b.Aversion
	}
	if c.what == "extra" {
		same = func(a, b zktree.Stamp) bool { return a.Czxid == b.Czxid && a.Cversion == b.Cversion }
		for x := c.rel; ; {
			if x == "/" {
				if c.r.anchor == nil {
					return false, nil
				}
				at, before = c.r.anchor.path, c.r.anchor.stamp
				break
			}
			x = path.Dir(x)
			if s, ok := c.r.active.Stamps[x]; ok {
				at, before = joinRel(c.r.unit.src, x), s
				break
			}
		}
	} else {
		s, ok := c.r.active.Stamps[c.rel]
		if !ok {
			return false, nil
		}
		at, before = joinRel(c.r.unit.src, c.rel), s
	}
	now, ok := cache[at]
	if !ok {
		_, s, _, err := zktree.ReadStamped(ctx, p.act, at, false, p.pa)
		switch {
		case errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNoAuth):
			now = &aeStamped{}
		case err != nil:
			return false, fmt.Errorf("read %s: %w", at, err)
		default:
			now = &aeStamped{stamp: s, exists: true}
		}
		cache[at] = now
	}
	return now.exists && same(before, now.stamp), nil
}

// diffKind is the short name of a zktree difference; the details (sizes,
// ACL entries with their digests) stay out of reports and logs.
func diffKind(what string) string {
	switch {
	case strings.HasPrefix(what, "missing"):
		return "missing"
	case strings.HasPrefix(what, "extra"):
		return "extra"
	case strings.HasPrefix(what, "data"):
		return "data"
	case strings.HasPrefix(what, "acl"):
		return "acl"
	case strings.HasPrefix(what, "mode"):
		return "mode"
	default:
		return "other"
	}
}

// nextHeartbeat waits for a heartbeat written after every read made so far on
// the active session and returns its zxid: it is above every zxid those reads
// saw, because the heartbeat node still held the previous one when read on
// the same session after them.
func (p *aePass) nextHeartbeat(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WaitTimeout)
	defer cancel()
	var first int64
	for {
		if err := p.pa.Wait(ctx); err != nil {
			return 0, p.waitErr(ctx, "a heartbeat of the active site", err)
		}
		ok, st, ch, err := p.act.ExistsW(aeHeartbeatPath)
		if err != nil {
			return 0, fmt.Errorf("read the active site's heartbeat: %w", err)
		}
		if !ok {
			return 0, errors.New("the active site has no heartbeat: is its source running?")
		}
		if first == 0 {
			first = st.Mzxid
		} else if st.Mzxid > first {
			return st.Mzxid, nil
		}
		select {
		case <-ctx.Done():
			return 0, p.waitErr(ctx, "a heartbeat of the active site", ctx.Err())
		case <-ch:
		}
	}
}

// waitWatermark waits until the standby's checkpoint, read on the session the
// standby is then read with, has a watermark at or above zxid.
func (p *aePass) waitWatermark(ctx context.Context, zxid int64) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WaitTimeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	what := fmt.Sprintf("the standby's watermark to reach %#x", zxid)
	for {
		if p.cfg.Watermark == nil || p.cfg.Watermark() >= zxid {
			if err := p.ps.Wait(ctx); err != nil {
				return p.waitErr(ctx, what, err)
			}
			cp, err := applier.ReadCheckpoint(ctx, p.stb)
			switch {
			case err == nil && cp.Resync != nil:
				return fmt.Errorf("the standby is %s", cp.Resync)
			case err == nil && cp.WatermarkZxid >= zxid:
				return nil
			case err != nil && !errors.Is(err, applier.ErrNoCheckpoint):
				return p.waitErr(ctx, what, err)
			}
		}
		select {
		case <-ctx.Done():
			return p.waitErr(ctx, what, ctx.Err())
		case <-t.C:
		}
	}
}

func (p *aePass) waitErr(ctx context.Context, what string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("waited %s for %s", p.cfg.WaitTimeout, what)
	}
	return fmt.Errorf("wait for %s: %w", what, err)
}
