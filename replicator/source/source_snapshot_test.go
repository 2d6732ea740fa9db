package source

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
)

// fromLastSnapshot returns the events from the last snapshot-begin whose
// snapshot-end was published, as a standby that lost everything older reads them.
func fromLastSnapshot(evs []journal.Event) []journal.Event {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind != journal.KindSnapshotEnd {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			if evs[j].Kind == journal.KindSnapshotBegin && evs[j].Snapshot == evs[i].Snapshot {
				return evs[j:]
			}
		}
	}
	return nil
}

func snapshotsIn(evs []journal.Event) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == journal.KindSnapshotEnd {
			n++
		}
	}
	return n
}

// waitReplayMatches waits until replaying events (from the start, and from the
// last complete snapshot alone) gives the primary's tree.
func waitReplayMatches(t *testing.T, want map[string]modelNode, pub *fakePub) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		evs := pub.snapshot()
		full := newModel()
		replayInto(full, evs...)
		last = diffTrees(want, full.nodes)
		if len(last) == 0 {
			fresh := newModel()
			replayInto(fresh, fromLastSnapshot(evs)...)
			if last = diffTrees(want, fresh.nodes); len(last) != 0 {
				last = append([]string{"replayed from the last snapshot only:"}, last...)
			}
		}
		if len(last) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay never matched the primary:\n%s", strings.Join(last, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scopedTree(t *testing.T, tree map[string]modelNode) map[string]modelNode {
	t.Helper()
	for p := range tree {
		if zkpath.Under(p, "/zkdr") || zkpath.Under(p, "/zookeeper") {
			delete(tree, p)
		}
	}
	return tree
}

// TestSourceSnapshotOnRequest: each write of /zkdr/snapshot-request is answered
// by one fresh snapshot, taken while writers keep changing the tree; replaying
// only that snapshot and what follows it gives the primary's tree.
func TestSourceSnapshotOnRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/burst", nil)
	mustCreate(t, admin, "/big", nil)
	createChildren(t, admin, "/big", 3000, 10)
	pub := &fakePub{}
	src := runSource(t, testSourceConfig(t, zks.Servers()), pub)
	sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })

	ctx := context.Background()
	done := make(chan struct{})
	go func() { defer close(done); runWriters(t, zks.Servers(), 3, 600, true, nil) }()
	for i := 1; i <= 2; i++ {
		if err := RequestSnapshot(ctx, admin, "west", "test"); err != nil {
			t.Fatalf("request snapshot: %v", err)
		}
		sourceWaitFor(t, 60*time.Second, "the requested snapshot", func() bool { return snapshotsIn(pub.snapshot()) == 1+i })
	}
	<-done
	waitReplayMatches(t, scopedTree(t, readTree(t, admin)), pub)
	checkPerPathOrder(t, pub.snapshot())
	// Nothing asked for more.
	time.Sleep(500 * time.Millisecond)
	if n := snapshotsIn(pub.snapshot()); n != 3 {
		t.Fatalf("%d snapshots, want 3 (bootstrap and two requests)", n)
	}
	st := src.Stats()
	if st.Snapshots != 3 || st.LastSnapshot.IsZero() {
		t.Fatalf("stats: %d snapshots, last %v", st.Snapshots, st.LastSnapshot)
	}
}

// TestSourcePeriodicSnapshots: with SnapshotInterval and SnapshotEveryEvents,
// snapshots keep coming during writes; the watermark claim holds throughout
// (heartbeats go on during a snapshot) and per-path order is kept.
func TestSourcePeriodicSnapshots(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	for _, tc := range []struct {
		name     string
		interval time.Duration
		events   int64
	}{{"interval", 300 * time.Millisecond, 0}, {"events", 0, 300}} {
		t.Run(tc.name, func(t *testing.T) {
			zks := zktest.Start(t)
			admin := zktest.Admin(t, zks.Servers())
			mustCreate(t, admin, "/burst", nil)
			pub := &fakePub{}
			cfg := testSourceConfig(t, zks.Servers())
			cfg.HeartbeatInterval = 20 * time.Millisecond
			cfg.SnapshotInterval, cfg.SnapshotEveryEvents = tc.interval, tc.events
			src := runSource(t, cfg, pub)
			sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })

			writes := runWriters(t, zks.Servers(), 3, 1500, true, nil)
			var maxZxid int64
			for _, w := range writes {
				maxZxid = max(maxZxid, w.zxid)
			}
			sourceWaitFor(t, 30*time.Second, "a heartbeat after the writes", func() bool { return src.Stats().LastHeartbeatZxid > maxZxid })
			sourceWaitFor(t, 30*time.Second, "a snapshot after the writes", func() bool { return snapshotsIn(pub.snapshot()) >= 3 })
			waitReplayMatches(t, scopedTree(t, readTree(t, admin)), pub)
			evs := pub.snapshot()
			checkPerPathOrder(t, evs)
			checkWatermark(t, evs, writes)
			t.Logf("%d snapshots, %d events", snapshotsIn(evs), len(evs))
		})
	}
}

// checkWatermark: at each heartbeat W, the replayed state holds every create,
// set and delete with zxid <= W (a create only if no later delete may have
// hidden it).
func checkWatermark(t *testing.T, evs []journal.Event, writes []writeRecord) {
	t.Helper()
	m := newModel()
	for _, ev := range evs {
		replayInto(m, ev)
		if ev.Kind != journal.KindHeartbeat {
			continue
		}
		for _, w := range writes {
			if w.zxid > ev.Zxid {
				continue
			}
			n, ok := m.nodes[w.path]
			switch {
			case w.op == "set" && ok && n.Stat.Czxid <= w.zxid && n.Stat.Mzxid < w.zxid:
				dumpWrite(t, evs, writes, w)
				t.Fatalf("heartbeat %d: set of %s at %d not published (have mzxid %d)", ev.Zxid, w.path, w.zxid, n.Stat.Mzxid)
			case w.op == "create" && !ok && !deletedBy(writes, w.path, w.zxid):
				dumpWrite(t, evs, writes, w)
				t.Fatalf("heartbeat %d: create of %s at %d not published", ev.Zxid, w.path, w.zxid)
			case w.op == "delete" && ok && n.Stat.Czxid < w.zxid:
				dumpWrite(t, evs, writes, w)
				t.Fatalf("heartbeat %d: delete of %s at %d not published", ev.Zxid, w.path, w.zxid)
			}
		}
	}
}
