package applier

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

const ttlMillis = 3_600_000

// A mixed stream (creates of every mode, updates, ACL changes, subtree deletes,
// re-creation with another mode, heartbeats) leaves the standby equal to the
// primary it describes, written through ACLs that lock out everyone but alice.
func TestApplierConverges(t *testing.T) {
	// Containers and TTL nodes are reaped within 200ms, which shows their modes:
	// ZooKeeper reports ephemeralOwner 0 for both, so no stat can.
	zkc := zkserver.StartT(t, zkserver.Config{
		SuperDigest: zktest.Super, ExtendedTypes: true,
		JavaProps: map[string]string{"zookeeper.forceSync": "no", "znode.container.checkIntervalMs": "200"},
	})
	j := newFakeJournal()
	want := apModel{}
	put := func(p, data string, acl []zk.ACL, owner int64) {
		want[p] = zktree.Node{Data: []byte(data), ACL: acl, EphemeralOwner: owner}
	}
	// Message 1: a batch of creates, one of them below a node only alice may touch.
	j.add(
		ev(journal.KindCreate, "/app", "app", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/app/locked", "secret", journal.ModePersistent, aliceOnly),
		ev(journal.KindCreate, "/app/locked/child", "c", journal.ModePersistent, aliceOnly),
		ev(journal.KindCreate, "/app/conf", "v1", journal.ModePersistent, openACL),
	)
	put("/app", "app", openACL, 0)
	put("/app/locked/child", "c", aliceOnly, 0)
	// Container and TTL nodes (outside Multi), with children.
	ttl := ev(journal.KindCreate, "/app/lease", "l", journal.ModeTTL, openACL)
	ttl.TTL = ttlMillis
	j.add(ev(journal.KindCreate, "/app/queue", "", journal.ModeContainer, openACL), ttl)
	put("/app/lease", "l", openACL, 0) // a TTL node; its stat shows owner 0
	// Updates, an ACL change, a heartbeat.
	j.add(
		ev(journal.KindUpdate, "/app/conf", "v2", journal.ModePersistent, nil),
		ev(journal.KindUpdate, "/app/locked", "secret-2", journal.ModePersistent, nil),
		ev(journal.KindACL, "/app/conf", "", journal.ModePersistent, aliceOnly),
		journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: 77, Time: time.Now().UnixNano()},
	)
	put("/app/conf", "v2", aliceOnly, 0)
	put("/app/locked", "secret-2", aliceOnly, 0)
	// Sequential children in the container, a deep create whose parents are
	// missing (update on missing = create with parents).
	for i := range 5 {
		e := ev(journal.KindCreate, fmt.Sprintf("/app/queue/item-%010d", i), fmt.Sprint(i), journal.ModePersistent, openACL)
		e.Sequential = true
		j.add(e)
		put(e.Path, fmt.Sprint(i), openACL, 0)
	}
	put("/app/queue", "", openACL, 0) // a container
	j.add(ev(journal.KindUpdate, "/app/deep/a/b", "deep", journal.ModePersistent, openACL))
	put("/app/deep", "", openACL, 0)
	put("/app/deep/a", "", openACL, 0)
	put("/app/deep/a/b", "deep", openACL, 0)
	// A subtree delete, a delete of a missing node, and a re-creation of /app/old
	// as a container (another incarnation: different mode).
	j.add(
		ev(journal.KindCreate, "/app/old", "o", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/app/old/x", "x", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/app/old/x/y", "y", journal.ModePersistent, openACL),
	)
	j.add(ev(journal.KindDelete, "/app/deep", "", 0, nil), ev(journal.KindDelete, "/app/never", "", 0, nil))
	delete(want, "/app/deep")
	delete(want, "/app/deep/a")
	delete(want, "/app/deep/a/b")
	j.add(ev(journal.KindCreate, "/app/old", "new", journal.ModeContainer, openACL),
		ev(journal.KindCreate, "/app/old/z", "z", journal.ModePersistent, openACL))
	put("/app/old", "new", openACL, 0) // now a container
	put("/app/old/z", "z", openACL, 0)
	// Out of scope: never applied.
	j.add(ev(journal.KindCreate, "/zookeeper/x", "no", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/zkdr/x", "no", journal.ModePersistent, openACL))

	// Modes that only show by their effect: a TTL node that expires, a container
	// whose last child went.
	short := ev(journal.KindCreate, "/app/short-ttl", "", journal.ModeTTL, openACL)
	short.TTL = 300
	j.add(short, ev(journal.KindCreate, "/app/emptied", "", journal.ModeContainer, openACL),
		ev(journal.KindCreate, "/app/emptied/only", "", journal.ModePersistent, openACL))
	j.add(ev(journal.KindDelete, "/app/emptied/only", "", 0, nil))

	a := startApplier(t, testApplierConfig(t, zkc, j))
	waitApplied(t, a.Applier, j.last())
	conn := zktest.Admin(t, zkc.Servers())
	eventually.True(t, 60*time.Second, "the standby reaping the TTL node and the emptied container", func() bool {
		t1, _, _ := conn.Exists("/app/short-ttl")
		t2, _, _ := conn.Exists("/app/emptied")
		return !t1 && !t2
	})
	st := a.Stats()
	t.Logf("stats %+v", st)
	compareStandby(t, conn, want)

	if st.WatermarkZxid != 77 || st.WatermarkTime.IsZero() {
		t.Errorf("watermark not applied: %+v", st)
	}
	t.Logf("stats %+v", st)
	if st.Replicated != len(want)+2 { // the two reaped nodes are still counted until seen gone
		t.Errorf("replicated count %d, want %d", st.Replicated, len(want))
	}
	cp, err := ReadCheckpoint(context.Background(), conn)
	if err != nil || cp.Seq != j.last() || cp.Stream != "ZKDR_east" || cp.Epoch != 1 || cp.WatermarkZxid != 77 {
		t.Errorf("checkpoint %+v, err %v", cp, err)
	}
	// An identity without super rights cannot write the locked node: the ACL is real.
	plain, _, err := zk.Connect(zkc.Servers(), 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Set("/app/locked", []byte("x"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("plain client wrote a node only alice may write: %v", err)
	}
}

// Cancelling Run at random points (many times) and starting again from the
// checkpoint converges, and applies nothing twice: every standby node's version
// equals the number of updates the journal holds for it.
func TestApplierRestartExactlyOnce(t *testing.T) {
	// Warm: every clean stop saves the index, wherever it lands, and the
	// next start uses it.
	for _, warm := range []bool{false, true} {
		t.Run(map[bool]string{false: "cold", true: "warm"}[warm], func(t *testing.T) { testRestartExactlyOnce(t, warm) })
	}
}

func testRestartExactlyOnce(t *testing.T, warm bool) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	rng := rand.New(rand.NewSource(1))
	const nodes = 40
	updates := map[string]int{}
	want := apModel{"/r": {ACL: openACL}}
	j.add(ev(journal.KindCreate, "/r", "", journal.ModePersistent, openACL))
	for i := range nodes {
		p := fmt.Sprintf("/r/n%02d", i)
		j.add(ev(journal.KindCreate, p, "0", journal.ModePersistent, openACL))
		want[p] = zktree.Node{Data: []byte("0"), ACL: openACL}
	}
	for m := range 1500 {
		var evs []journal.Event
		for range 1 + rng.Intn(4) {
			p := fmt.Sprintf("/r/n%02d", rng.Intn(nodes))
			updates[p]++
			data := fmt.Sprint(updates[p])
			evs = append(evs, ev(journal.KindUpdate, p, data, journal.ModePersistent, nil))
			want[p] = zktree.Node{Data: []byte(data), ACL: openACL}
		}
		if m%100 == 0 {
			evs = append(evs, journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: int64(m), Time: 1})
		}
		j.add(evs...)
	}
	cfg := testApplierConfig(t, zkc, j)
	cfg.MaxBatchOps = 50 // many batches, so cancellation lands between and inside them
	cfg.Logger = zktest.Logger(t, "west").Named("quiet")
	maxRun := 150 // ms
	if warm {
		cfg.IndexFile = filepath.Join(t.TempDir(), "index")
		maxRun = 500 // a start reads the standby's digest first
	}
	restarts, warmStarts := 0, 0
	for {
		a := startApplier(t, cfg)
		time.Sleep(time.Duration(rng.Intn(maxRun)) * time.Millisecond)
		if err := a.stop(t); err != nil {
			t.Fatalf("run: %v", err)
		}
		if a.Stats().Start == "warm" {
			warmStarts++
		}
		restarts++
		if a.Stats().AppliedSeq >= j.last() && restarts >= 10 {
			break
		}
		if restarts > 400 {
			t.Fatalf("not done after %d restarts", restarts)
		}
	}
	t.Logf("converged after %d restarts, %d of them warm", restarts, warmStarts)
	if warm && warmStarts == 0 {
		t.Errorf("no start of %d used the saved index", restarts)
	}
	conn := zktest.Admin(t, zkc.Servers())
	compareStandby(t, conn, want)
	for p, n := range updates {
		_, st, err := conn.Exists(p)
		if err != nil {
			t.Fatal(err)
		}
		if int(st.Version) != n {
			t.Errorf("%s: version %d, want %d updates applied once each", p, st.Version, n)
		}
	}
}

// A second applier on the same standby fences the first: the first stops with
// ErrFenced at its next Multi, however the two interleave their
// pipelined Multis; the second carries on and the tree converges.
func TestApplierFenced(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/f", "", journal.ModePersistent, openACL))
	cfg := testApplierConfig(t, zkc, j)
	first := startApplier(t, cfg)
	waitApplied(t, first.Applier, 1)
	second := startApplier(t, cfg)
	waitApplied(t, second.Applier, 1)
	want := apModel{"/f": {ACL: openACL}}
	for i := range 50 {
		p := fmt.Sprintf("/f/%d", i)
		j.add(ev(journal.KindCreate, p, "x", journal.ModePersistent, openACL))
		want[p] = zktree.Node{Data: []byte("x"), ACL: openACL}
	}
	var fenced, alive *runningApplier
	eventually.True(t, 60*time.Second, "one applier fenced", func() bool {
		for _, c := range [][2]*runningApplier{{first, second}, {second, first}} {
			select {
			case err := <-c[0].done:
				close(c[0].done)
				if !errors.Is(err, ErrFenced) {
					t.Fatalf("applier stopped with %v, want ErrFenced", err)
				}
				fenced, alive = c[0], c[1]
				return true
			default:
			}
		}
		return false
	})
	t.Logf("fenced: %s", fenced.Stats().LastError)
	if fenced != first {
		t.Fatalf("the applier that claimed the standby last was fenced, want the first one")
	}
	waitApplied(t, alive.Applier, j.last())
	compareStandby(t, zktest.Admin(t, zkc.Servers()), want)
}

// After applying a history with high counters, a sequential create on the
// standby returns a name that sorts after every replicated child.
func TestApplierCarriesSequenceCounters(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	// /q: a queue whose parent event reports cversion 3000 (1500 creates and
	// 1500 deletes on the primary), and whose newest child is item-0000001499.
	q := ev(journal.KindCreate, "/q", "", journal.ModePersistent, openACL)
	q.Stat.Cversion = 3000
	j.add(q)
	last := ev(journal.KindCreate, "/q/item-0000001499", "x", journal.ModePersistent, openACL)
	last.Sequential = true
	j.add(last)
	// /s: known only through a sequentially named child (no parent stat).
	s := ev(journal.KindCreate, "/s/job-0000004321", "x", journal.ModePersistent, openACL)
	s.Sequential = true
	j.add(s)
	// /snap: carried through a snapshot: counters are settled at snapshot-end.
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotBegin, Snapshot: 9})
	sn := ev(journal.KindSnapshotNode, "/snap", "", journal.ModePersistent, openACL)
	sn.Stat.Cversion = 41
	j.add(sn)
	for _, n := range []int{7, 19, 20} {
		c := ev(journal.KindSnapshotNode, fmt.Sprintf("/snap/c-%010d", n), "", journal.ModePersistent, openACL)
		c.Sequential = true
		j.add(c)
	}
	for _, p := range []string{"/q", "/q/item-0000001499", "/s", "/s/job-0000004321"} {
		j.add(ev(journal.KindSnapshotNode, p, "", journal.ModePersistent, openACL))
	}
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotEnd, Snapshot: 9})

	a := startApplier(t, testApplierConfig(t, zkc, j))
	waitApplied(t, a.Applier, j.last())
	conn := zktest.Admin(t, zkc.Servers())
	for _, parent := range []string{"/q", "/s", "/snap"} {
		kids, _, err := conn.Children(parent)
		if err != nil {
			t.Fatal(err)
		}
		name, err := conn.Create(parent+"/new-", nil, zk.FlagSequence, openACL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := sequenceSuffix(name)
		for _, k := range kids {
			if n, ok := sequenceSuffix(k); ok && n >= got {
				t.Errorf("%s: new sequential %s does not sort after replicated %s", parent, name, k)
			}
		}
		t.Logf("%s: replicated %v, next sequential %s", parent, kids, name)
	}
	// Exactly what padding buys: /q's counter reached the primary's bound.
	name, _ := conn.Create("/q/again-", nil, zk.FlagSequence, openACL)
	if n, _ := sequenceSuffix(name); n < 3000 {
		t.Errorf("/q counter %d, want at least the primary's reported cversion 3000", n)
	}
}

// A window of deletes (between two heartbeats) that would delete most of the
// standby pauses the applier, shows the pause in /zkdr/guard and the stats,
// and proceeds with exactly that batch once released.
func TestApplierDeleteGuard(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/keep", "", journal.ModePersistent, openACL))
	var evs []journal.Event
	evs = append(evs, ev(journal.KindCreate, "/big", "", journal.ModePersistent, openACL))
	for i := range 200 {
		evs = append(evs, ev(journal.KindCreate, fmt.Sprintf("/big/%03d", i), "x", journal.ModePersistent, openACL))
	}
	j.add(evs...)
	small := j.add(ev(journal.KindDelete, "/big/000", "", 0, nil)) // 1 node: below the guard
	// A heartbeat closes the small delete's window: the wipe is weighed alone.
	beat := j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: 500, Time: time.Now().UnixNano()})
	wipe := j.add(ev(journal.KindDelete, "/big", "", 0, nil), ev(journal.KindUpdate, "/keep", "after", journal.ModePersistent, nil))
	cfg := testApplierConfig(t, zkc, j)
	cfg.DeleteGuardMinNodes = 10
	a := startApplier(t, cfg)
	waitApplied(t, a.Applier, small)
	conn := zktest.Admin(t, zkc.Servers())
	eventually.True(t, 60*time.Second, "guard paused", func() bool {
		g, ok, err := ReadGuard(context.Background(), conn)
		return err == nil && ok && g.State == GuardPaused
	})
	g, _, _ := ReadGuard(context.Background(), conn)
	if g.FirstSeq != wipe || g.Deletes != 200 || g.Replicated != 201 {
		t.Errorf("guard state %+v", g)
	}
	if st := a.Stats(); st.Guard == nil || st.AppliedSeq != beat {
		t.Errorf("stats while paused: %+v", st)
	}
	if ok, _, _ := conn.Exists("/big/100"); !ok {
		t.Fatalf("paused batch was applied")
	}
	if err := ReleaseGuard(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, a.Applier, wipe)
	compareStandby(t, conn, apModel{"/keep": {Data: []byte("after"), ACL: openACL}})
	if _, ok, _ := ReadGuard(context.Background(), conn); ok {
		t.Errorf("guard node left behind")
	}
	if err := ReleaseGuard(context.Background(), conn); !errors.Is(err, ErrGuardNotPaused) {
		t.Errorf("release without pause: %v", err)
	}
}

// An undecodable message stops the applier with its sequence; SkipMessage moves
// the checkpoint past it and records that, and the applier continues after it.
func TestApplierPoisonAndSkip(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/p", "", journal.ModePersistent, openACL))
	bad := j.add(ev(journal.KindCreate, "/p/bad", "", journal.ModePersistent, openACL))
	j.poison[bad] = true
	j.add(ev(journal.KindCreate, "/p/after", "", journal.ModePersistent, openACL))
	cfg := testApplierConfig(t, zkc, j)
	a := startApplier(t, cfg)
	err := a.wait(t, 60*time.Second)
	var de *journal.DecodeError
	if !errors.Is(err, ErrPoisonMessage) || !errors.As(err, &de) || de.Seq != bad || !strings.Contains(err.Error(), fmt.Sprint(bad)) {
		t.Fatalf("run: %v, want poison at sequence %d", err, bad)
	}
	var se *replicator.StopError
	if !errors.As(err, &se) || !se.Permanent || se.Op != "decode" || se.Seq != bad {
		t.Fatalf("run: %#v, want a permanent decode stop at sequence %d", se, bad)
	}
	conn := zktest.Admin(t, zkc.Servers())
	if err := SkipMessage(context.Background(), conn, cfg.Stream, bad+1, "wrong one"); !errors.Is(err, ErrSkipRefused) {
		t.Errorf("skip of a later message: %v", err)
	}
	if err := SkipMessage(context.Background(), conn, cfg.Stream, bad, "corrupt in transit"); err != nil {
		t.Fatal(err)
	}
	b := startApplier(t, cfg)
	waitApplied(t, b.Applier, j.last())
	compareStandby(t, conn, apModel{"/p": {ACL: openACL}, "/p/after": {ACL: openACL}})
	cp, _ := ReadCheckpoint(context.Background(), conn)
	if len(cp.Skipped) != 1 || cp.Skipped[0].Seq != bad || cp.Skipped[0].Reason != "corrupt in transit" {
		t.Errorf("skipped history %+v", cp.Skipped)
	}
}

// An event of an older epoch stops the applier.
func TestApplierStopsOnOldEpoch(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/g", "", journal.ModePersistent, openACL))
	newer := ev(journal.KindUpdate, "/g", "2", journal.ModePersistent, nil)
	newer.Epoch = 2
	j.add(newer)
	old := ev(journal.KindUpdate, "/g", "old", journal.ModePersistent, nil) // epoch 1 after epoch 2
	old.Zxid = 0x100000077
	j.add(old)
	cfg := testApplierConfig(t, zkc, j)
	a := startApplier(t, cfg)
	err := a.wait(t, 60*time.Second)
	if !errors.Is(err, ErrEventEpoch) {
		t.Fatalf("run: %v, want ErrEventEpoch", err)
	}
	var se *replicator.StopError
	if !errors.As(err, &se) || !se.Permanent || se.Op != "plan" || se.Seq != 3 || se.Zxid != old.Zxid {
		t.Fatalf("run: %#v, want a permanent plan stop at sequence 3", se)
	}
	if st := a.Stats(); st.AppliedSeq != 2 || st.Epoch != 2 {
		t.Errorf("stats %+v", st)
	}
}

// Guarantee 7: a journal that no longer holds the next sequence is recorded in
// the checkpoint and reported; nothing after the gap is applied (heartbeats
// included) before a snapshot begun after it; the applier asks for that
// snapshot, applies it, and its end deletes what the gap hid a delete of. A
// restart while resyncing, before and inside the snapshot, keeps resyncing.
func TestApplierResyncAfterGap(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	hb := func(zxid int64) journal.Event {
		return journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: zxid, Time: zxid * int64(time.Second)}
	}
	j.add(ev(journal.KindCreate, "/r", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/r/keep", "1", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/r/gone", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/r/gone/kid", "", journal.ModePersistent, openACL))
	applied := j.add(hb(10))
	requests := make(chan string, 10)
	cfg := testApplierConfig(t, zkc, j)
	cfg.RequestSnapshot = func(ctx context.Context, reason string) error {
		requests <- reason
		return nil
	}
	a := startApplier(t, cfg)
	waitApplied(t, a.Applier, applied)
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	// Retention drops what the stopped applier had not read.
	j.drop(applied + 10)
	gapAt := applied + 1
	post := []uint64{
		j.add(hb(30)),
		j.add(ev(journal.KindCreate, "/r/new", "n", journal.ModePersistent, openACL)),
		j.add(ev(journal.KindDelete, "/r/gone", "", journal.ModePersistent, nil)),
		j.add(ev(journal.KindUpdate, "/r/keep", "2", journal.ModePersistent, nil), hb(31)),
	}
	conn := zktest.Admin(t, zkc.Servers())
	state := fmt.Sprintf("resyncing after retention gap at seq %d", gapAt)
	checkResyncing := func(b *runningApplier, skipped uint64) {
		t.Helper()
		eventually.True(t, 60*time.Second, "the gap to be reported and the post-gap messages skipped", func() bool {
			st := b.Stats()
			return st.State == state && st.ResyncSkipped >= skipped
		})
		if st := b.Stats(); st.WatermarkZxid != 10 || !strings.Contains(st.LastError, fmt.Sprint(gapAt)) && st.LastError != "" {
			t.Errorf("stats while resyncing: %+v", st)
		}
		cp, err := ReadCheckpoint(context.Background(), conn)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Resync == nil || cp.Resync.GapAt != gapAt || cp.WatermarkZxid != 10 {
			t.Fatalf("checkpoint while resyncing: %+v resync %+v", cp, cp.Resync)
		}
		if ok, _, _ := conn.Exists("/r/new"); ok {
			t.Fatal("a change after the gap was applied before the resync snapshot")
		}
		if ok, _, _ := conn.Exists("/r/gone"); !ok {
			t.Fatal("a delete after the gap was applied before the resync snapshot")
		}
	}
	b := startApplier(t, cfg)
	checkResyncing(b, uint64(len(post)))
	if cp, _ := ReadCheckpoint(context.Background(), conn); cp.Resync.FirstAvailable != post[0] {
		t.Errorf("first available %d, want %d", cp.Resync.FirstAvailable, post[0])
	}
	select {
	case reason := <-requests:
		if !strings.Contains(reason, fmt.Sprint(gapAt)) {
			t.Errorf("snapshot request reason %q does not name the gap", reason)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no snapshot requested")
	}
	// A restart while waiting for the snapshot keeps resyncing.
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	b = startApplier(t, cfg)
	checkResyncing(b, uint64(len(post)))

	// The snapshot: a heartbeat in the begin's message before it, and one
	// inside it, do not move the watermark.
	j.add(hb(35), journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotBegin, Snapshot: 7})
	j.add(ev(journal.KindSnapshotNode, "/r", "", journal.ModePersistent, openACL))
	j.add(ev(journal.KindSnapshotNode, "/r/keep", "2", journal.ModePersistent, openACL), hb(40))
	mid := j.add(ev(journal.KindSnapshotNode, "/r/new", "n", journal.ModePersistent, openACL))
	waitApplied(t, b.Applier, mid)
	if st := b.Stats(); st.WatermarkZxid != 10 || st.State != state {
		t.Errorf("inside the resync snapshot: watermark %d state %q", st.WatermarkZxid, st.State)
	}
	// A restart inside the resync snapshot reads it again from its begin.
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotEnd, Snapshot: 7})
	last := j.add(hb(50))
	c := startApplier(t, cfg)
	waitApplied(t, c.Applier, last)
	compareStandby(t, conn, apModel{
		"/r":      {ACL: openACL},
		"/r/keep": {Data: []byte("2"), ACL: openACL},
		"/r/new":  {Data: []byte("n"), ACL: openACL},
	})
	cp, _ := ReadCheckpoint(context.Background(), conn)
	if cp.Resync != nil || cp.Snapshot != nil || cp.WatermarkZxid != 50 {
		t.Errorf("checkpoint after the resync: %+v", cp)
	}
	if st := c.Stats(); st.State != "applying" || st.Resync != nil || st.LastError != "" {
		t.Errorf("stats after the resync: %+v", st)
	}
}

// snapshot-end deletes what the snapshot did not mention, also when the
// applier restarts between the begin and the end.
func TestApplierSnapshotEndAcrossRestart(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/s", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/s/stale", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/s/stale/kid", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/s/live", "old", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/gone", "", journal.ModePersistent, openACL))
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotBegin, Snapshot: 5})
	j.add(ev(journal.KindSnapshotNode, "/s", "", journal.ModePersistent, openACL))
	mid := j.add(ev(journal.KindSnapshotNode, "/s/live", "new", journal.ModePersistent, openACL))
	cfg := testApplierConfig(t, zkc, j)
	a := startApplier(t, cfg)
	waitApplied(t, a.Applier, mid)
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	conn := zktest.Admin(t, zkc.Servers())
	cp, _ := ReadCheckpoint(context.Background(), conn)
	if cp.Snapshot == nil || cp.Snapshot.ID != 5 {
		t.Fatalf("checkpoint does not record the open snapshot: %+v", cp)
	}
	// Events between begin and end count as mentions too.
	j.add(ev(journal.KindCreate, "/s/during", "d", journal.ModePersistent, openACL))
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotEnd, Snapshot: 5})
	b := startApplier(t, cfg)
	waitApplied(t, b.Applier, j.last())
	compareStandby(t, conn, apModel{
		"/s":        {ACL: openACL},
		"/s/live":   {Data: []byte("new"), ACL: openACL},
		"/s/during": {Data: []byte("d"), ACL: openACL},
	})
	// Nothing applied twice while re-reading from the begin.
	if _, st, _ := conn.Exists("/s/live"); st.Version != 1 {
		t.Errorf("/s/live version %d, want 1", st.Version)
	}
	if cp, _ := ReadCheckpoint(context.Background(), conn); cp.Snapshot != nil {
		t.Errorf("snapshot still open after its end: %+v", cp.Snapshot)
	}
}

// Changes made behind the applier's back (a node it believes missing exists, a
// node it believes present is gone) are translated, not fatal.
func TestApplierRedoesRefusedBatch(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/x", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/x/a", "a", journal.ModePersistent, openACL))
	a := startApplier(t, testApplierConfig(t, zkc, j))
	waitApplied(t, a.Applier, 1)
	conn := zktest.Admin(t, zkc.Servers())
	if _, err := conn.Create("/x/b", []byte("intruder"), 0, openACL); err != nil {
		t.Fatal(err)
	}
	if err := conn.Delete("/x/a", -1); err != nil {
		t.Fatal(err)
	}
	j.add(ev(journal.KindCreate, "/x/b", "b", journal.ModePersistent, openACL),
		ev(journal.KindUpdate, "/x/a", "a2", journal.ModePersistent, nil),
		ev(journal.KindDelete, "/x/zzz", "", 0, nil))
	waitApplied(t, a.Applier, j.last())
	compareStandby(t, conn, apModel{"/x": {ACL: openACL}, "/x/a": {Data: []byte("a2"), ACL: openACL}, "/x/b": {Data: []byte("b"), ACL: openACL}})
	if st := a.Stats(); st.Redone == 0 {
		t.Errorf("expected a redone batch: %+v", st)
	}
}

// TestApplierPipelineRefusalExactlyOnce: with small batches and several
// Multis in flight, a batch the standby refuses (a node it was told exists is
// gone) fails every batch sent after it on the checkpoint's version check; all
// of them are planned again from the last checkpoint applied. Each message sets
// /pl/v once, so the node's version proves that none was applied twice or
// skipped.
func TestApplierPipelineRefusalExactlyOnce(t *testing.T) {
	const sets, refusedAt = 600, 300
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/pl", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/pl/v", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/pl/gone", "g", journal.ModePersistent, openACL))
	cfg := testApplierConfig(t, zkc, j)
	cfg.MaxBatchOps = 12 // about ten messages per Multi
	cfg.MaxInFlight = 4
	a := startApplier(t, cfg)
	waitApplied(t, a.Applier, j.last())
	conn := zktest.Admin(t, zkc.Servers())
	if err := conn.Delete("/pl/gone", -1); err != nil {
		t.Fatal(err)
	}
	for i := range sets {
		evs := []journal.Event{ev(journal.KindUpdate, "/pl/v", fmt.Sprint(i), journal.ModePersistent, nil)}
		if i == refusedAt {
			evs = append(evs, ev(journal.KindUpdate, "/pl/gone", "g2", journal.ModePersistent, nil))
		}
		j.add(evs...)
	}
	waitApplied(t, a.Applier, j.last())
	_, st, err := conn.Get("/pl/v")
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != sets {
		t.Errorf("/pl/v is at version %d after %d sets: applied twice or skipped", st.Version, sets)
	}
	compareStandby(t, conn, apModel{"/pl": {ACL: openACL}, "/pl/v": {Data: []byte(fmt.Sprint(sets - 1)), ACL: openACL},
		"/pl/gone": {Data: []byte("g2"), ACL: openACL}})
	stats := a.Stats()
	if stats.Redone == 0 {
		t.Errorf("expected the refused batch to be planned again: %+v", stats)
	}
	cp, err := ReadCheckpoint(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != j.last() {
		t.Errorf("checkpoint at %d, journal ends at %d", cp.Seq, j.last())
	}
	t.Logf("batches %d, redone %d, out of order %d", stats.Batches, stats.Redone, stats.OutOfOrder)
}

// After a restart the applier knows no standby ACL; a backlog of updates that
// carry ACLs (the same as the standby's on some nodes, another on the rest)
// leaves every ACL as the journal says, and the nodes whose ACL did not change
// were not written (their aversion is still 0): the ACLs read ahead of planning
// are the standby's.
func TestApplierACLsAfterRestart(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	const nodes = 60
	aclOf := func(i int, flipped bool) []zk.ACL {
		if (i%2 == 0) != (flipped && i%3 == 0) {
			return aliceOnly
		}
		return openACL
	}
	want := apModel{"/acl": {ACL: openACL}}
	j.add(ev(journal.KindCreate, "/acl", "", journal.ModePersistent, openACL))
	for i := range nodes {
		p := fmt.Sprintf("/acl/n%02d", i)
		j.add(ev(journal.KindCreate, p, "0", journal.ModePersistent, aclOf(i, false)))
	}
	cfg := testApplierConfig(t, zkc, j)
	a := startApplier(t, cfg)
	waitApplied(t, a.Applier, j.last())
	if err := a.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	// The backlog: two updates per node in each message of ten nodes.
	for m := 0; m < nodes; m += 10 {
		var evs []journal.Event
		for i := m; i < m+10; i++ {
			p := fmt.Sprintf("/acl/n%02d", i)
			evs = append(evs, ev(journal.KindUpdate, p, "1", journal.ModePersistent, aclOf(i, true)),
				ev(journal.KindUpdate, p, "2", journal.ModePersistent, aclOf(i, true)))
			want[p] = zktree.Node{Data: []byte("2"), ACL: aclOf(i, true)}
		}
		j.add(evs...)
	}
	a = startApplier(t, cfg)
	waitApplied(t, a.Applier, j.last())
	conn := zktest.Admin(t, zkc.Servers())
	compareStandby(t, conn, want)
	changed := 0
	for i := range nodes {
		p := fmt.Sprintf("/acl/n%02d", i)
		_, st, err := conn.Exists(p)
		if err != nil {
			t.Fatal(err)
		}
		wantAversion := int32(0)
		if aclSum(aclOf(i, false)) != aclSum(aclOf(i, true)) {
			wantAversion = 1
			changed++
		}
		if st.Aversion != wantAversion {
			t.Errorf("%s: aversion %d, want %d", p, st.Aversion, wantAversion)
		}
	}
	if changed == 0 || changed == nodes {
		t.Fatalf("the test changes the ACL of %d of %d nodes: it needs both kinds", changed, nodes)
	}
}

func TestApplierConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Site, ok.Stream, ok.Servers = "west", "ZKDR_east", []string{"127.0.0.1:2181"}
	ok.OpenReader = func(context.Context, uint64) (JournalReader, error) { return nil, nil }
	if err := ok.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	none := ok
	none.BulkSessions = 0 // read on the applier's own session only
	if err := none.Validate(); err != nil {
		t.Fatalf("no bulk sessions: %v", err)
	}
	bad := ok
	bad.BulkSessions = -1
	if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "bulk sessions") {
		t.Fatalf("negative bulk sessions: got %v", err)
	}
}

// The deletes between two heartbeats are weighed together, however they are
// cut into messages: a subtree deleted node by node over several messages
// pauses before any of it is deleted on the standby.
func TestApplierDeleteGuardWindow(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	var evs []journal.Event
	evs = append(evs, ev(journal.KindCreate, "/big", "", journal.ModePersistent, openACL))
	for i := range 200 {
		evs = append(evs, ev(journal.KindCreate, fmt.Sprintf("/big/%03d", i), "x", journal.ModePersistent, openACL))
	}
	j.add(evs...)
	loaded := j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: 500, Time: time.Now().UnixNano()})
	cfg := testApplierConfig(t, zkc, j)
	cfg.DeleteGuardMinNodes = 10
	a := startApplier(t, cfg)
	waitApplied(t, a.Applier, loaded)
	first := j.add(ev(journal.KindDelete, "/big/000", "", 0, nil), ev(journal.KindDelete, "/big/001", "", 0, nil))
	var rest []journal.Event
	for i := 2; i < 200; i++ {
		rest = append(rest, ev(journal.KindDelete, fmt.Sprintf("/big/%03d", i), "", 0, nil))
	}
	j.add(rest...)
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: 900, Time: time.Now().UnixNano()})
	conn := zktest.Admin(t, zkc.Servers())
	eventually.True(t, 60*time.Second, "guard paused", func() bool {
		g, ok, err := ReadGuard(context.Background(), conn)
		return err == nil && ok && g.State == GuardPaused
	})
	g, _, _ := ReadGuard(context.Background(), conn)
	if g.FirstSeq != first || g.Deletes != 200 {
		t.Errorf("guard state %+v, want the window from seq %d with 200 deletes", g, first)
	}
	if kids, _, err := conn.Children("/big"); err != nil || len(kids) != 200 {
		t.Fatalf("standby lost nodes before the pause: %d children, %v", len(kids), err)
	}
}
