package applier

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// step is one part of a message's plan: Multi ops, or one change ZooKeeper
// cannot do inside a Multi (SetACL, CreateContainer, CreateTTL), done on its own.
type step struct {
	ops    []any
	bytes  int
	direct func(ctx context.Context, conn *zk.Conn) error
}

// msgPlan is what applying one journal message takes.
type msgPlan struct {
	seq      uint64
	firstSeq uint64
	steps    []step
	cp       Checkpoint // the checkpoint once this message is applied
	events   int        // events applied (heartbeats and markers included)
	targets  padTargets // counters to carry once its creates are in
	// delivered is when the reader handed the message over (zero if unknown).
	delivered time.Time
}

// simple reports whether the message is plain Multi ops that may share a batch.
func (mp *msgPlan) simple() bool {
	return len(mp.steps) == 0 || (len(mp.steps) == 1 && mp.steps[0].direct == nil)
}

func (mp *msgPlan) size() (ops, bytes int) {
	for _, s := range mp.steps {
		ops += len(s.ops)
		bytes += s.bytes
	}
	return
}

func (mp *msgPlan) emit(op any, size int) {
	if n := len(mp.steps); n == 0 || mp.steps[n-1].direct != nil {
		mp.steps = append(mp.steps, step{})
	}
	s := &mp.steps[len(mp.steps)-1]
	s.ops = append(s.ops, op)
	s.bytes += size
}

func (mp *msgPlan) emitDirect(fn func(ctx context.Context, conn *zk.Conn) error) {
	mp.steps = append(mp.steps, step{direct: fn})
}

// opSize approximates an op's share of the Multi request in bytes.
func opSize(p string, data []byte, acl []zk.ACL) int {
	n := 24 + len(p) + len(data)
	for _, a := range acl {
		n += 12 + len(a.Scheme) + len(a.ID)
	}
	return n
}

// snapState follows an open snapshot: which standby paths it mentioned, and the
// counters its nodes asked for (carried at snapshot-end).
type snapState struct {
	id        uint64
	beginSeq  uint64
	mentioned map[string]struct{}
	targets   padTargets
}

// planner turns journal messages into plans against the standby tree. Planning
// changes the tree (undoably) and the running checkpoint as if the plan were
// applied; the applier commits or takes the plan back.
type planner struct {
	tree *standbyTree
	m    zkpath.Mapper
	conn *zk.Conn
	// reads is where prefetchACLs reads: conn and the bulk sessions.
	reads *zkconn.ReadPool
	cp    Checkpoint // running: as if every planned message were applied
	snap  *snapState
	// minEpoch and stale: events older than minEpoch are skipped and counted
	// (see Config.MinEpoch).
	minEpoch uint64
	stale    uint64
	// guard is the delete guard's rule; while judging (a dry run, see
	// run.judge) the verdict on each group of deletes is kept in verdicts.
	guard    guardRule
	judging  bool
	verdicts []guardVerdict
}

// plannerState is what a plan changes outside the tree.
type plannerState struct {
	cp    Checkpoint
	snap  *snapState
	stale uint64
}

func (pl *planner) save() plannerState     { return plannerState{pl.cp.clone(), pl.snap, pl.stale} }
func (pl *planner) restore(s plannerState) { pl.cp, pl.snap, pl.stale = s.cp, s.snap, s.stale }

// window is the running checkpoint's delete guard window.
func (pl *planner) window() *GuardWindow {
	if pl.cp.Guard == nil {
		pl.cp.Guard = &GuardWindow{}
	}
	return pl.cp.Guard
}

// closeGroup ends the group of deletes since the last heartbeat, judging it
// while in a dry run.
func (pl *planner) closeGroup() {
	w := pl.window()
	if w.Group == nil {
		return
	}
	if pl.judging {
		pl.verdicts = append(pl.verdicts, pl.guard.judge(w, pl.tree.durable))
	}
	w.Group = nil
}

var worldACL = zk.WorldACL(zk.PermAll)

// plan plans msg. With mentionOnly (a message applied before a restart, read
// again to rebuild an open snapshot's mentions) nothing is planned but the
// snapshot bookkeeping.
func (pl *planner) plan(msg journal.Message, mentionOnly bool) (*msgPlan, error) {
	mp := &msgPlan{seq: msg.Seq, firstSeq: msg.FirstSeq, targets: padTargets{}, delivered: msg.Delivered}
	if mp.firstSeq == 0 {
		mp.firstSeq = msg.Seq
	}
	for i := range msg.Events {
		ev := &msg.Events[i]
		if ev.Epoch < pl.minEpoch {
			pl.stale++ // a deposed primary's tail, even its snapshot markers
			continue
		}
		if pl.cp.resyncing() && ev.Kind != journal.KindSnapshotBegin {
			continue // before the resync snapshot's begin: that snapshot brings it
		}
		if ev.Epoch < pl.cp.Epoch {
			return nil, fmt.Errorf("%w: sequence %d has epoch %d, the standby follows epoch %d", ErrEventEpoch, msg.Seq, ev.Epoch, pl.cp.Epoch)
		}
		if !mentionOnly {
			pl.cp.Epoch = ev.Epoch
		}
		if err := pl.event(mp, ev, mentionOnly); err != nil {
			return nil, err
		}
	}
	if mentionOnly {
		return mp, nil
	}
	pl.cp.Seq = msg.Seq
	pl.cp.Applied += uint64(mp.events)
	mp.cp = pl.cp.clone()
	return mp, nil
}

func (pl *planner) event(mp *msgPlan, ev *journal.Event, mentionOnly bool) error {
	switch ev.Kind {
	case journal.KindHeartbeat:
		if pl.cp.Resync != nil {
			// Until the resync snapshot has ended the standby lacks what the
			// gap hid, so a heartbeat's watermark would claim too much.
			return nil
		}
		if !mentionOnly {
			if ev.Zxid > pl.cp.WatermarkZxid {
				pl.cp.WatermarkZxid = ev.Zxid
			}
			pl.cp.WatermarkTime = ev.Time
			mp.events++
			pl.closeGroup()
			pl.window().observe(ev.Time, pl.tree.durable, pl.guard.window)
		}
		return nil
	case journal.KindSnapshotBegin:
		pl.snap = &snapState{id: ev.Snapshot, beginSeq: mp.firstSeq, mentioned: map[string]struct{}{}, targets: padTargets{}}
		if !mentionOnly {
			pl.cp.Snapshot = &SnapshotMark{ID: ev.Snapshot, BeginSeq: mp.firstSeq}
			mp.events++
		}
		return nil
	case journal.KindSnapshotEnd:
		if mentionOnly {
			pl.snap = nil
			return nil
		}
		mp.events++
		return pl.snapshotEnd(mp, ev)
	}
	dst, ok := pl.m.Dest(ev.Path)
	if !ok {
		return nil // out of scope: the source filters too; never touch /zookeeper or /zkdr
	}
	targets := mp.targets
	if pl.snap != nil {
		targets = pl.snap.targets
		if ev.Kind != journal.KindDelete {
			pl.snap.mentioned[dst] = struct{}{}
		}
	}
	if ev.Kind != journal.KindDelete {
		eventTargets(targets, dst, ev)
	}
	if mentionOnly {
		return nil
	}
	mp.events++
	switch ev.Kind {
	case journal.KindCreate, journal.KindUpdate, journal.KindSnapshotNode, journal.KindACL:
		return pl.ensure(mp, dst, ev)
	case journal.KindDelete:
		pl.deleteSubtree(mp, dst)
		return nil
	default:
		return fmt.Errorf("%w: sequence %d: unknown event kind %d", ErrApply, mp.seq, ev.Kind)
	}
}

// ensure makes dst exist with the event's state. Idempotent translation:
//   - missing: create it (parents first, as plain persistent nodes with an open
//     ACL; their own events, which the source publishes first, normally made
//     them already);
//   - present with the same mode: set its data (and ACL when it differs);
//   - a create or snapshot-node whose mode differs from the mode the applier
//     created the standby's node with: the standby holds another incarnation (a
//     node's mode never changes in place), so it is deleted with its subtree and
//     created again. Standby czxids are the standby's own zxids and say nothing
//     about the primary's incarnations; a same-mode re-creation on the primary
//     reaches the standby as delete events for the old children, which the
//     source publishes. Nodes the applier did not create in this process have an
//     unknown mode (ZooKeeper shows container and TTL nodes with ephemeralOwner
//     0) and are never replaced on a mode difference.
func (pl *planner) ensure(mp *msgPlan, dst string, ev *journal.Event) error {
	mode := ev.Mode
	if mode == journal.ModeEphemeral {
		mode = journal.ModePersistent // replicated ephemerals become persistent nodes
	}
	n := pl.tree.get(dst)
	full := ev.Kind == journal.KindCreate || ev.Kind == journal.KindSnapshotNode
	if n != nil && full && n.mode != modeUnknown && n.mode != mode && dst != "/" {
		pl.deleteSubtree(mp, dst)
		n = nil
	}
	if n == nil {
		pl.ensureParents(mp, zkpath.Parent(dst))
		pl.create(mp, dst, ev.Data, ev.ACL, mode, ev.TTL)
		return nil
	}
	if ev.Kind != journal.KindACL {
		mp.emit(&zk.SetDataRequest{Path: dst, Data: ev.Data, Version: -1}, opSize(dst, ev.Data, nil))
	}
	if len(ev.ACL) > 0 {
		return pl.ensureACL(mp, dst, n, ev.ACL)
	}
	return nil
}

func (pl *planner) ensureParents(mp *msgPlan, p string) {
	if p == "/" || pl.tree.get(p) != nil {
		return
	}
	pl.ensureParents(mp, zkpath.Parent(p))
	pl.create(mp, p, nil, nil, journal.ModePersistent, 0)
}

func (pl *planner) create(mp *msgPlan, p string, data []byte, acl []zk.ACL, mode journal.Mode, ttl int64) {
	if len(acl) == 0 {
		acl = worldACL
	}
	switch mode {
	case journal.ModeContainer:
		mp.emitDirect(func(ctx context.Context, conn *zk.Conn) error {
			_, err := conn.CreateContainer(p, data, zk.FlagContainer, acl)
			return createResult(conn, p, data, acl, err)
		})
	case journal.ModeTTL:
		d := time.Duration(ttl) * time.Millisecond
		mp.emitDirect(func(ctx context.Context, conn *zk.Conn) error {
			_, err := conn.CreateTTL(p, data, zk.FlagTTL, acl, d)
			return createResult(conn, p, data, acl, err)
		})
	default:
		mp.emit(&zk.CreateRequest{Path: p, Data: data, Acl: acl}, opSize(p, data, acl))
	}
	pl.tree.add(p, &tnode{mode: mode, aclSum: aclSum(acl)})
	if parent := pl.tree.get(zkpath.Parent(p)); parent != nil && p != "/" {
		pl.tree.setCounter(parent, parent.counter+1)
	}
}

// createResult translates a direct create's outcome: a node that exists already
// gets the data and ACL instead; a standby without extended types says so.
func createResult(conn *zk.Conn, p string, data []byte, acl []zk.ACL, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zk.ErrNodeExists):
		if _, err := conn.Set(p, data, -1); err != nil {
			return fmt.Errorf("set %s: %w", p, err)
		}
		if _, err := conn.SetACL(p, acl, -1); err != nil {
			return fmt.Errorf("set acl %s: %w", p, err)
		}
		return nil
	case isUnimplemented(err):
		return fmt.Errorf("create ttl node %s: %w", p, ErrExtendedTypesDisabled)
	default:
		return fmt.Errorf("create %s: %w", p, err)
	}
}

// isUnimplemented recognises ZooKeeper's UNIMPLEMENTED (-6) and the marshalling
// error (-5) a server without extended types answers to a TTL create;
// go-zookeeper has no sentinel for either.
func isUnimplemented(err error) bool {
	s := err.Error()
	return s == "unknown error: -6" || s == "unknown error: -5"
}

// prefetchACLs reads, with up to concurrency reads in flight over the read
// pool (synced when the tree was loaded: a node whose ACL is unknown has not
// had its ACL written by the applier since), the standby's
// ACL of every node that msgs (those after sequence after) set an ACL on and
// whose ACL the tree does not know, so ensureACL finds it known instead of
// reading one node at a time while planning. What it reads is the standby's
// state and no planned change touches it (a node whose ACL a plan sets or
// creates is known already), so it is recorded without undo.
func (pl *planner) prefetchACLs(ctx context.Context, msgs []journal.Message, after uint64, concurrency int) error {
	var unknown []string
	seen := map[string]struct{}{}
	for i := range msgs {
		if msgs[i].Seq <= after {
			continue
		}
		for j := range msgs[i].Events {
			ev := &msgs[i].Events[j]
			switch ev.Kind {
			case journal.KindCreate, journal.KindUpdate, journal.KindSnapshotNode, journal.KindACL:
			default:
				continue
			}
			if len(ev.ACL) == 0 {
				continue
			}
			dst, ok := pl.m.Dest(ev.Path)
			if !ok {
				continue
			}
			if n := pl.tree.get(dst); n == nil || n.aclSum != 0 {
				continue
			}
			if _, dup := seen[dst]; !dup {
				seen[dst] = struct{}{}
				unknown = append(unknown, dst)
			}
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sums := make([]uint64, len(unknown))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for i, p := range unknown {
		g.Go(func() error {
			acl, _, err := pl.reads.At(i).GetACL(p)
			switch {
			case err == nil:
				sums[i] = aclSum(acl)
			case errors.Is(err, zk.ErrNoNode):
				// The tree is stale; planning finds out.
			default:
				return fmt.Errorf("read acl %s: %w", p, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, p := range unknown {
		if n := pl.tree.get(p); n != nil && n.aclSum == 0 && sums[i] != 0 {
			n.aclSum = sums[i]
		}
	}
	return nil
}

func (pl *planner) ensureACL(mp *msgPlan, p string, n *tnode, acl []zk.ACL) error {
	want := aclSum(acl)
	if n.aclSum == 0 {
		// Not known since the walk: read it once.
		have, _, err := pl.conn.GetACL(p)
		switch {
		case err == nil:
			pl.tree.setACL(n, aclSum(have))
		case errors.Is(err, zk.ErrNoNode):
			// The tree is stale; the SetACL below fails and the batch is redone.
		default:
			return fmt.Errorf("read acl %s: %w", p, err)
		}
	}
	if n.aclSum == want {
		return nil
	}
	mp.emitDirect(func(ctx context.Context, conn *zk.Conn) error {
		if _, err := conn.SetACL(p, acl, -1); err != nil {
			return fmt.Errorf("set acl %s: %w", p, err)
		}
		return nil
	})
	pl.tree.setACL(n, want)
	return nil
}

// deleteSubtree deletes p and everything below it, children first.
func (pl *planner) deleteSubtree(mp *msgPlan, p string) {
	if pl.tree.get(p) == nil || p == "/" {
		return // delete on missing = nothing
	}
	doomed := pl.tree.subtree(p)
	for _, q := range doomed {
		mp.emit(&zk.DeleteRequest{Path: q, Version: -1}, opSize(q, nil, nil))
	}
	before := pl.tree.durable
	_, weighed := pl.tree.remove(p)
	if weighed == 0 {
		return
	}
	w := pl.window()
	if w.Group == nil {
		w.seed(before)
		w.Group = &GuardGroup{FirstSeq: mp.seq, Before: before}
	}
	w.Group.Deletes += weighed
	for _, q := range doomed {
		if len(w.Group.Sample) >= guardSample {
			break
		}
		w.Group.Sample = append(w.Group.Sample, q)
	}
}

// snapshotEnd deletes every replicated standby node the snapshot did not
// mention (nor any node below it), then carries the counters the snapshot
// asked for.
func (pl *planner) snapshotEnd(mp *msgPlan, ev *journal.Event) error {
	snap := pl.snap
	pl.snap = nil
	pl.cp.Snapshot = nil
	if snap == nil || snap.id != ev.Snapshot {
		// The begin was never seen (or belongs to another snapshot): deleting on
		// partial knowledge could wipe live nodes, so this end deletes nothing.
		return nil
	}
	// A snapshot begun after a retention gap has now brought everything.
	pl.cp.Resync = nil
	keep := map[string]struct{}{}
	for p := range snap.mentioned {
		for q := p; ; q = zkpath.Parent(q) {
			if _, ok := keep[q]; ok {
				break
			}
			keep[q] = struct{}{}
			if q == "/" {
				break
			}
		}
	}
	var doomed []string
	for _, p := range pl.tree.replicated() {
		if _, ok := keep[p]; ok {
			continue
		}
		if _, ok := keep[zkpath.Parent(p)]; ok || pl.tree.get(zkpath.Parent(p)) == nil || !pl.tree.get(zkpath.Parent(p)).inScope {
			doomed = append(doomed, p) // the top of an unmentioned subtree
		}
	}
	sort.Strings(doomed)
	for _, p := range doomed {
		pl.deleteSubtree(mp, p)
	}
	for p, target := range snap.targets {
		raiseTarget(mp.targets, p, target)
	}
	return nil
}

// padOpsFor returns the pad pairs a set of targets needs now, and raises the
// tree's counters accordingly.
func (pl *planner) padOpsFor(targets padTargets) []any {
	parents := make([]string, 0, len(targets))
	for p := range targets {
		parents = append(parents, p)
	}
	sort.Strings(parents)
	var ops []any
	for _, p := range parents {
		k := pl.tree.shortfall(p, targets[p])
		if k == 0 {
			continue
		}
		ops = append(ops, padOps(p, k)...)
		n := pl.tree.get(p)
		pl.tree.setCounter(n, n.counter+int32(k))
	}
	return ops
}
