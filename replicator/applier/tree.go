package applier

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// tnode is what the applier knows of one standby znode: never its data.
type tnode struct {
	kids map[string]struct{} // child names; nil when none
	mode journal.Mode
	// counter is the node's sequence counter: the number a sequential create
	// under it would get. ZooKeeper reports cversion = 2*creates - children and
	// numbers sequential children by creates, so counter = (cversion+children)/2.
	counter int32
	aclSum  uint64 // fnv hash of the ACL as last written or read; 0 = not known
	inScope bool   // a replicated node (not an ancestor of a scope root)
}

// standbyTree mirrors the standby's replicated subtrees (and the ancestors of
// their roots) so batches are built without reads: creates that would meet an
// existing node become updates, deletes know their subtrees, and the delete
// guard knows how many replicated nodes there are. Only the applier's goroutine
// uses it.
type standbyTree struct {
	nodes map[string]*tnode
	count int // replicated nodes (inScope), "/" excluded
	// durable counts the replicated nodes whose names are not sequence-shaped:
	// what the delete guard weighs (see guard_rule.go).
	durable int
	m       zkpath.Mapper
	// rootParent is set when top-level nodes are replicated, so "/" is a
	// replicated parent whose counter is carried.
	rootParent bool
	// undo holds the inverse of every change since mark, so a planned message
	// that does not fit the batch can be taken back.
	undo []func()
	// partial is set while load walks the standby, and stays set if the walk
	// failed: the tree is then not the standby's.
	partial bool
}

// mark starts recording changes; rollback undoes them back to the mark.
func (t *standbyTree) mark() int { return len(t.undo) }

func (t *standbyTree) rollback(mark int) {
	for i := len(t.undo) - 1; i >= mark; i-- {
		t.undo[i]()
	}
	t.undo = t.undo[:mark]
}

// commit forgets the undo log: the changes are in ZooKeeper.
func (t *standbyTree) commit() { t.undo = t.undo[:0] }

// commitTo forgets the undo log up to mark (the changes of a pipelined Multi
// just applied) and keeps the rest; marks taken after it move down by mark.
func (t *standbyTree) commitTo(mark int) {
	n := copy(t.undo, t.undo[mark:])
	clear(t.undo[n:])
	t.undo = t.undo[:n]
}

// setCounter and setACL change a node's bookkeeping, undoably.
func (t *standbyTree) setCounter(n *tnode, v int32) {
	old := n.counter
	n.counter = v
	t.undo = append(t.undo, func() { n.counter = old })
}

func (t *standbyTree) setACL(n *tnode, sum uint64) {
	old := n.aclSum
	n.aclSum = sum
	t.undo = append(t.undo, func() { n.aclSum = old })
}

func newStandbyTree(m zkpath.Mapper) *standbyTree {
	return &standbyTree{nodes: map[string]*tnode{}, m: m, rootParent: slices.Contains(m.Roots(), "/")}
}

func (t *standbyTree) get(p string) *tnode { return t.nodes[p] }

// add records p as existing; its parent must be known unless p is "/".
func (t *standbyTree) add(p string, n *tnode) {
	if old, ok := t.nodes[p]; ok {
		n.kids, n.inScope = old.kids, old.inScope
		t.nodes[p] = n
		t.undo = append(t.undo, func() { t.nodes[p] = old })
		return
	}
	n.inScope = p != "/" && t.m.InScope(p)
	t.nodes[p] = n
	weighed := n.inScope && !sequenceShaped(baseName(p))
	if n.inScope {
		t.count++
	}
	if weighed {
		t.durable++
	}
	parent := t.nodes[zkpath.Parent(p)]
	name := baseName(p)
	if parent != nil && p != "/" {
		if parent.kids == nil {
			parent.kids = map[string]struct{}{}
		}
		parent.kids[name] = struct{}{}
	}
	t.undo = append(t.undo, func() {
		delete(t.nodes, p)
		if n.inScope {
			t.count--
		}
		if weighed {
			t.durable--
		}
		if parent != nil && p != "/" {
			delete(parent.kids, name)
		}
	})
}

// subtree lists p and everything below it, children before parents (the order
// deletes must go in).
func (t *standbyTree) subtree(p string) []string {
	var out []string
	var walk func(string)
	walk = func(q string) {
		n := t.nodes[q]
		if n == nil {
			return
		}
		names := make([]string, 0, len(n.kids))
		for k := range n.kids {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			walk(zkpath.Child(q, k))
		}
		out = append(out, q)
	}
	walk(p)
	return out
}

// remove forgets p and its subtree; it returns the replicated nodes removed
// and how many of them the delete guard weighs.
func (t *standbyTree) remove(p string) (removed, weighed int) {
	gone := map[string]*tnode{}
	for _, q := range t.subtree(p) {
		if t.nodes[q].inScope {
			removed++
			t.count--
			if !sequenceShaped(baseName(q)) {
				weighed++
				t.durable--
			}
		}
		gone[q] = t.nodes[q]
		delete(t.nodes, q)
	}
	parent := t.nodes[zkpath.Parent(p)]
	if parent != nil && p != "/" {
		delete(parent.kids, baseName(p))
	}
	t.undo = append(t.undo, func() {
		for q, n := range gone {
			t.nodes[q] = n
		}
		t.count += removed
		t.durable += weighed
		if parent != nil && p != "/" {
			if parent.kids == nil {
				parent.kids = map[string]struct{}{}
			}
			parent.kids[baseName(p)] = struct{}{}
		}
	})
	return removed, weighed
}

// replicated lists every replicated node, sorted.
func (t *standbyTree) replicated() []string {
	out := make([]string, 0, t.count)
	for p, n := range t.nodes {
		if n.inScope {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// modeUnknown marks a node whose mode the applier did not create itself:
// ZooKeeper (3.8) reports ephemeralOwner 0 for container and TTL nodes, so a
// stat cannot tell them from persistent ones.
const modeUnknown journal.Mode = 255

func modeOfOwner(owner int64) journal.Mode {
	switch {
	case owner == 0:
		return modeUnknown
	case owner == -1<<63:
		return journal.ModeContainer
	case uint64(owner)>>56 == 0xff:
		return journal.ModeTTL
	default:
		return journal.ModeEphemeral
	}
}

func nodeFromStat(st *zk.Stat) *tnode {
	return &tnode{mode: modeOfOwner(st.EphemeralOwner), counter: (st.Cversion + st.NumChildren) / 2}
}

func aclSum(acl []zk.ACL) uint64 {
	h := fnv.New64a()
	for _, a := range acl {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", a.Perms, a.Scheme, a.ID)
	}
	s := h.Sum64()
	if s == 0 {
		s = 1
	}
	return s
}

// load walks the standby: the ancestors of every destination root, then each
// root's subtree, level by level with up to concurrency reads in flight spread
// over the pool's sessions.
func (t *standbyTree) load(ctx context.Context, rp *zkconn.ReadPool, concurrency int) error {
	if err := rp.Sync(); err != nil {
		return err
	}
	conn := rp.At(0)
	t.partial = true
	t.nodes = map[string]*tnode{}
	t.count, t.durable = 0, 0
	t.undo = nil
	roots := t.m.Roots()
	var level []string
	seen := map[string]bool{}
	for _, r := range roots {
		// Ancestors first, top down, so add finds each parent.
		var chain []string
		for q := r; ; q = zkpath.Parent(q) {
			chain = append([]string{q}, chain...)
			if q == "/" {
				break
			}
		}
		for i, q := range chain {
			if seen[q] {
				continue
			}
			seen[q] = true
			ok, st, err := conn.Exists(q)
			if err != nil {
				return fmt.Errorf("index standby %s: %w", q, err)
			}
			if !ok {
				break
			}
			if i == len(chain)-1 {
				level = append(level, q)
				continue
			}
			t.add(q, nodeFromStat(st))
		}
	}
	for len(level) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		type result struct {
			kids []string
			st   *zk.Stat
		}
		results := make([]result, len(level))
		g, _ := errgroup.WithContext(ctx)
		g.SetLimit(concurrency)
		for i, p := range level {
			g.Go(func() error {
				kids, st, err := rp.At(i).Children(p)
				if errors.Is(err, zk.ErrNoNode) {
					return nil // vanished meanwhile (a reaped container, a TTL node)
				}
				if err != nil {
					return fmt.Errorf("index standby %s: %w", p, err)
				}
				results[i] = result{kids, st}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		var next []string
		for i, p := range level {
			r := results[i]
			if r.st == nil || (p != "/" && t.nodes[zkpath.Parent(p)] == nil) {
				continue
			}
			t.add(p, nodeFromStat(r.st))
			for _, k := range r.kids {
				c := zkpath.Child(p, k)
				if t.m.InScope(c) || isAncestorOfRoot(c, roots) {
					next = append(next, c)
				}
			}
		}
		level = next
	}
	t.undo = nil
	t.partial = false
	return nil
}

func isAncestorOfRoot(p string, roots []string) bool {
	for _, r := range roots {
		if zkpath.Under(r, p) {
			return true
		}
	}
	return false
}
