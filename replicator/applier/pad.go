package applier

import (
	"strconv"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// Sequence counters cannot be set in ZooKeeper; they are carried by padding.
//
// A sequential create under P is numbered by P's count of creates so far. The
// stat does not show that count directly: ZooKeeper (3.6+) reports
// cversion = 2*creates - children, i.e. creates + deletes. So:
//   - a create+delete pair of a throwaway child raises the counter by exactly 1
//     (and the reported cversion by 2), whatever the parent's mode;
//   - the standby's counter is (cversion + numChildren) / 2 of its own stat;
//   - the primary's counter is at most its reported cversion (creates <= creates plus
//     deletes) and is exactly n+1 right after it issued a sequential name
//     ending in n. The applier raises the standby's counter to the larger of the
//     two, so it is never behind; it may run ahead by the primary's deletes,
//     which only makes later names larger.
//
// Padding happens at the end of the batch (after its creates, which count too)
// and, during a snapshot, at its snapshot-end, so a parent whose children arrive
// after it is not padded for children that are about to be created anyway.
const padName = ".zkdr-pad"

// padTargets maps a standby parent path to the counter it must reach.
type padTargets = map[string]int32

func raiseTarget(pt padTargets, p string, target int32) {
	if target > pt[p] {
		pt[p] = target
	}
}

// eventTargets adds what one event says about counters: the node's own reported
// cversion, and for a sequentially named create, its parent's counter.
func eventTargets(pt padTargets, dst string, ev *journal.Event) {
	if ev.Stat.Cversion > 0 {
		raiseTarget(pt, dst, ev.Stat.Cversion)
	}
	if ev.Sequential && (ev.Kind == journal.KindCreate || ev.Kind == journal.KindSnapshotNode) {
		if n, ok := sequenceSuffix(dst); ok && n < 1<<31-1 {
			raiseTarget(pt, zkpath.Parent(dst), n+1)
		}
	}
}

// sequenceSuffix parses the 10-digit counter ZooKeeper appends to sequential names.
func sequenceSuffix(p string) (int32, bool) {
	if len(p) < 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(p[len(p)-10:], 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int32(n), true
}

// padOps returns k create+delete pairs under parent.
func padOps(parent string, k int) []any {
	p := zkpath.Child(parent, padName)
	ops := make([]any, 0, 2*k)
	for range k {
		ops = append(ops,
			&zk.CreateRequest{Path: p, Acl: zk.WorldACL(zk.PermAll)},
			&zk.DeleteRequest{Path: p, Version: -1})
	}
	return ops
}

// shortfall is how many pairs parent needs to reach target, per the tree.
// Parents that are gone, ephemeral (they cannot have children) or not
// replicated need none.
func (t *standbyTree) shortfall(parent string, target int32) int {
	n := t.get(parent)
	if n == nil || n.mode == journal.ModeEphemeral || (!n.inScope && parent != "/") {
		return 0
	}
	if parent == "/" && !t.rootParent {
		return 0
	}
	if n.counter >= target {
		return 0
	}
	return int(target - n.counter)
}
