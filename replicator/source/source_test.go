package source

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// buildRichTree creates every kind of node the source must carry.
func buildRichTree(t *testing.T, conn *zk.Conn) {
	t.Helper()
	mustCreate(t, conn, "/app", []byte("hello"))
	for i := 0; i < 3; i++ {
		if _, err := conn.Create("/app/seq-", []byte{byte(i)}, zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("sequential: %v", err)
		}
	}
	if _, err := conn.CreateContainer("/app/container", []byte("c"), zk.FlagContainer, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("container: %v", err)
	}
	mustCreate(t, conn, "/app/container/child", nil) // an empty container would be reaped
	if _, err := conn.CreateTTL("/app/ttl", []byte("t"), zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Hour); err != nil {
		t.Fatalf("ttl: %v", err)
	}
	if _, err := conn.Create("/app/secret", []byte("s3cr3t"), 0, zk.DigestACL(zk.PermRead|zk.PermWrite, "alice", "pw")); err != nil {
		t.Fatalf("acl node: %v", err)
	}
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	mustCreate(t, conn, "/app/binary", bin)
	big := make([]byte, 1_000_000)
	rand.New(rand.NewSource(1)).Read(big)
	mustCreate(t, conn, "/app/big", big)
	mustCreate(t, conn, "/app/ünïcødé name with spaces", []byte("名前"))
	mustCreate(t, conn, "/app/many", nil)
	createChildren(t, conn, "/app/many", 10_000, 10)
	if _, err := conn.Create("/app/eph", []byte("e"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("ephemeral: %v", err)
	}
	mustCreate(t, conn, "/keep", nil)
	if _, err := conn.Create("/keep/eph", []byte("kept"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("ephemeral: %v", err)
	}
	mustCreate(t, conn, "/skipme", []byte("excluded"))
}

func TestSourceCapturesTree(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	for _, watch := range []string{WatchRecursive, WatchOneShot} {
		t.Run(watch, func(t *testing.T) { testSourceCapturesTree(t, watch) })
	}
}

func testSourceCapturesTree(t *testing.T, watch string) {
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	buildRichTree(t, admin)

	pub := &fakePub{}
	cfg := testSourceConfig(t, zks.Servers())
	cfg.Watch = watch
	cfg.Scope = zkpath.Scope{Exclude: []string{"/skipme"}, Ephemeral: []zkpath.EphemeralRule{{Prefix: "/keep", Policy: zkpath.EphemeralPersistent}}}
	src := runSource(t, cfg, pub)
	sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })
	if got := src.Stats().Watch; got != watch {
		t.Fatalf("source watches with %q, want %q", got, watch)
	}

	evs := pub.snapshot()
	if evs[0].Kind != journal.KindSnapshotBegin {
		t.Fatalf("first event is %s, want snapshot-begin", evs[0].Kind)
	}
	m := newModel()
	replayInto(m, evs...)
	want := readTree(t, admin)
	delete(want, "/skipme")
	got := m.nodes
	if d := diffTrees(want, withoutEphemeral(got)); len(d) > 0 {
		t.Fatalf("replayed snapshot differs from the primary:\n%s", strings.Join(d, "\n"))
	}

	byPath := map[string]journal.Event{}
	for _, ev := range evs {
		if ev.Site != "east" || ev.Epoch != 1 {
			t.Fatalf("event %s %s has site %q epoch %d", ev.Kind, ev.Path, ev.Site, ev.Epoch)
		}
		if ev.Path != "" {
			byPath[ev.Path] = ev
		}
	}
	// ZooKeeper 3.8 hides container and TTL owners from clients: DataNode.copyStat
	// reports ephemeralOwner 0 for every non-NORMAL EphemeralType. Both replicate
	// as persistent nodes (data, ACL and children intact); see doc.go.
	for _, p := range []string{"/app/ttl", "/app/container"} {
		if ev := byPath[p]; ev.Mode != journal.ModePersistent || ev.Stat.Czxid == 0 {
			t.Errorf("%s: mode %s, stat %+v", p, ev.Mode, ev.Stat)
		}
	}
	if _, ok := byPath["/app/eph"]; ok {
		t.Errorf("skipped ephemeral was published")
	}
	if ev, ok := byPath["/keep/eph"]; !ok || ev.Mode != journal.ModeEphemeral {
		t.Errorf("ephemeral under a persistent-policy prefix: %+v", ev.Mode)
	}
	if _, ok := byPath["/skipme"]; ok {
		t.Errorf("excluded path was published")
	}
	for p, ev := range byPath {
		if strings.HasPrefix(p, "/zookeeper") || strings.HasPrefix(p, "/zkdr") {
			t.Errorf("%s must never be replicated", p)
		}
		if strings.HasPrefix(p, "/app/seq-") != ev.Sequential {
			t.Errorf("%s: sequential %v", p, ev.Sequential)
		}
	}
	if ev := byPath["/app/many"]; ev.Stat.Cversion != 10_000 {
		t.Errorf("/app/many cversion %d, want 10000", ev.Stat.Cversion)
	}
	// Heartbeats follow the snapshot.
	sourceWaitFor(t, 30*time.Second, "a heartbeat", func() bool { return src.Stats().LastHeartbeatZxid > 0 })
	if st := src.Stats(); st.IndexSize < 10_000 || st.BootstrapNodes < 10_000 {
		t.Errorf("stats: %+v", st)
	}
}

// writeRecord is one write and the zxid ZooKeeper gave it.
type writeRecord struct {
	op   string // create, set, delete
	path string
	zxid int64
}

// writer does random creates, sets, deletes (leaf and recursive) and
// delete+re-create under its own subtree, recording every zxid it can learn.
type writer struct {
	conn *zk.Conn
	root string
	rnd  *rand.Rand
	mu   *sync.Mutex
	log  *[]writeRecord
	live []string
}

func (w *writer) record(op, p string, zxid int64) {
	w.mu.Lock()
	*w.log = append(*w.log, writeRecord{op, p, zxid})
	w.mu.Unlock()
}

func (w *writer) step(t *testing.T, recursive bool) {
	switch r := w.rnd.Intn(10); {
	case r < 4 || len(w.live) == 0:
		parent := w.root
		if len(w.live) > 0 && w.rnd.Intn(2) == 0 {
			parent = w.live[w.rnd.Intn(len(w.live))]
		}
		p := fmt.Sprintf("%s/c%d", parent, w.rnd.Intn(1000))
		if _, err := w.conn.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			return // exists, or parent gone
		}
		if _, st, err := w.conn.Exists(p); err == nil && st != nil {
			w.record("create", p, st.Czxid)
		}
		w.live = append(w.live, p)
	case r < 8:
		p := w.live[w.rnd.Intn(len(w.live))]
		st, err := w.conn.Set(p, []byte(fmt.Sprintf("v%d", w.rnd.Int())), -1)
		if err == nil {
			w.record("set", p, st.Mzxid)
		}
	case r < 9:
		i := w.rnd.Intn(len(w.live))
		p := w.live[i]
		if recursive {
			_ = deleteAll(w.conn, p)
		} else if err := w.conn.Delete(p, -1); err != nil {
			return
		}
		if _, st, err := w.conn.Exists(zkpath.Parent(p)); err == nil && st != nil {
			w.record("delete", p, st.Pzxid)
		}
		var keep []string
		for _, l := range w.live {
			if !zkpath.Under(l, p) {
				keep = append(keep, l)
			}
		}
		w.live = keep
	default:
		// delete and re-create the same path quickly
		p := w.live[w.rnd.Intn(len(w.live))]
		if err := w.conn.Delete(p, -1); err != nil {
			return
		}
		if _, st, err := w.conn.Exists(zkpath.Parent(p)); err == nil && st != nil {
			w.record("delete", p, st.Pzxid)
		}
		if _, err := w.conn.Create(p, []byte("again"), 0, zk.WorldACL(zk.PermAll)); err == nil {
			if _, st, err := w.conn.Exists(p); err == nil && st != nil {
				w.record("create", p, st.Czxid)
			}
		}
	}
}

func deleteAll(conn *zk.Conn, p string) error {
	kids, _, err := conn.Children(p)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := deleteAll(conn, p+"/"+k); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
	}
	return conn.Delete(p, -1)
}

// runWriters runs n writers for steps each, concurrently.
func runWriters(t *testing.T, servers []string, n, steps int, recursive bool, pause func(i int)) []writeRecord {
	var (
		mu  sync.Mutex
		log []writeRecord
		wg  sync.WaitGroup
	)
	for i := 0; i < n; i++ {
		conn := zktest.Admin(t, servers)
		root := fmt.Sprintf("/burst/w%d", i)
		mustCreate(t, conn, root, nil)
		w := &writer{conn: conn, root: root, rnd: rand.New(rand.NewSource(int64(i))), mu: &mu, log: &log}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := 0; s < steps; s++ {
				w.step(t, recursive)
				if pause != nil {
					pause(s)
				}
			}
		}()
	}
	wg.Wait()
	return log
}

// checkPerPathOrder: for each path and incarnation, published mzxids never go back.
func checkPerPathOrder(t *testing.T, evs []journal.Event) {
	t.Helper()
	type inc struct{ czxid, mzxid int64 }
	last := map[string]inc{}
	for _, ev := range evs {
		switch ev.Kind {
		case journal.KindCreate, journal.KindUpdate, journal.KindSnapshotNode:
			l, ok := last[ev.Path]
			if ok && l.czxid == ev.Stat.Czxid && ev.Stat.Mzxid < l.mzxid {
				t.Fatalf("%s went back from mzxid %d to %d", ev.Path, l.mzxid, ev.Stat.Mzxid)
			}
			if ok && ev.Stat.Czxid < l.czxid {
				t.Fatalf("%s went back from czxid %d to %d", ev.Path, l.czxid, ev.Stat.Czxid)
			}
			last[ev.Path] = inc{ev.Stat.Czxid, ev.Stat.Mzxid}
		}
	}
}

func TestSourceBurstConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/burst", nil)
	pub := &fakePub{}
	src := runSource(t, testSourceConfig(t, zks.Servers()), pub)
	sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })

	runWriters(t, zks.Servers(), 4, 1500, true, nil)

	want := readTree(t, admin)
	var last []string
	waitErr := func() bool {
		m := newModel()
		replayInto(m, pub.snapshot()...)
		last = diffTrees(want, m.nodes)
		return len(last) == 0
	}
	deadline := time.Now().Add(60 * time.Second)
	for !waitErr() {
		if time.Now().After(deadline) {
			t.Fatalf("replay never matched the primary:\n%s", strings.Join(last, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkPerPathOrder(t, pub.snapshot())
	t.Logf("events published: %d, index size %d", src.Stats().EventsPublished, src.Stats().IndexSize)
}

// TestSourceWatermark: after each heartbeat W, the replayed state already holds
// every write with zxid <= W.
func TestSourceWatermark(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/burst", nil)
	pub := &fakePub{}
	cfg := testSourceConfig(t, zks.Servers())
	cfg.HeartbeatInterval = 20 * time.Millisecond
	src := runSource(t, cfg, pub)
	sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })

	writes := runWriters(t, zks.Servers(), 3, 1500, false, nil)
	// A heartbeat written after the last write covers everything.
	var maxZxid int64
	for _, w := range writes {
		maxZxid = max(maxZxid, w.zxid)
	}
	sourceWaitFor(t, 30*time.Second, "a heartbeat after the writes", func() bool { return src.Stats().LastHeartbeatZxid > maxZxid })

	evs := pub.snapshot()
	m := newModel()
	heartbeats := 0
	for _, ev := range evs {
		replayInto(m, ev)
		if ev.Kind != journal.KindHeartbeat {
			continue
		}
		heartbeats++
		for _, w := range writes {
			if w.zxid > ev.Zxid {
				continue
			}
			n, ok := m.nodes[w.path]
			switch w.op {
			case "set":
				// Later deletes may have removed it; otherwise the state is at least this new.
				if ok && n.Stat.Czxid <= w.zxid && n.Stat.Mzxid < w.zxid {
					dumpWrite(t, evs, writes, w)
					t.Fatalf("heartbeat %d: set of %s at %d not published (have mzxid %d)", ev.Zxid, w.path, w.zxid, n.Stat.Mzxid)
				}
			case "create":
				// Reads may be newer than W: a create can be hidden by a later delete.
				if !ok && !deletedBy(writes, w.path, w.zxid) {
					for _, e := range evs {
						if zkpath.Under(w.path, e.Path) && len(e.Path) > len("/burst/w0") || e.Kind == journal.KindHeartbeat && e.Zxid > w.zxid-30 && e.Zxid < w.zxid+30 {
							t.Logf("%s %s zxid %d czxid %d mzxid %d pzxid %d", e.Kind, e.Path, e.Zxid, e.Stat.Czxid, e.Stat.Mzxid, e.Stat.Pzxid)
						}
					}
					t.Fatalf("heartbeat %d: create of %s at %d not published", ev.Zxid, w.path, w.zxid)
				}
			case "delete":
				if ok && n.Stat.Czxid < w.zxid {
					dumpWrite(t, evs, writes, w)
					t.Fatalf("heartbeat %d: delete of %s at %d not published", ev.Zxid, w.path, w.zxid)
				}
			}
		}
	}
	if heartbeats < 3 {
		t.Fatalf("only %d heartbeats", heartbeats)
	}
	t.Logf("%d writes checked against %d heartbeats", len(writes), heartbeats)
}

// dumpWrite logs, for a write the watermark check failed on, the events
// around it and every write under its parent.
func dumpWrite(t *testing.T, evs []journal.Event, writes []writeRecord, w writeRecord) {
	dumpPath(t, evs, w.path, w.zxid)
	for _, x := range writes {
		if zkpath.Under(x.path, zkpath.Parent(w.path)) {
			t.Logf("write %s %s %d", x.op, x.path, x.zxid)
		}
	}
}

func dumpPath(t *testing.T, evs []journal.Event, p string, w int64) {
	for i, e := range evs {
		if e.Path != "" && (zkpath.Under(p, e.Path) && len(e.Path) > len("/burst/w0") || zkpath.Parent(p) == e.Path) || e.Kind == journal.KindHeartbeat && e.Zxid > w-20 && e.Zxid < w+20 {
			t.Logf("#%d %s %s zxid %d czxid %d mzxid %d pzxid %d", i, e.Kind, e.Path, e.Zxid, e.Stat.Czxid, e.Stat.Mzxid, e.Stat.Pzxid)
		}
	}
}

// deletedBy reports whether p (or an ancestor) was deleted after zxid from.
func deletedBy(writes []writeRecord, p string, from int64) bool {
	for _, w := range writes {
		if w.op == "delete" && zkpath.Under(p, w.path) && w.zxid > from {
			return true
		}
	}
	return false
}

func TestSourceSurvivesSessionExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/burst", nil)
	proxy := newCutProxy(t, zks.Servers()[0])
	pub := &fakePub{}
	cfg := testSourceConfig(t, []string{proxy.Addr()})
	cfg.SessionTimeout = time.Second
	src := runSource(t, cfg, pub)
	sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })

	var once sync.Once
	runWriters(t, zks.Servers(), 3, 1200, true, func(step int) {
		if step == 400 {
			once.Do(func() {
				proxy.Cut()
				time.AfterFunc(4*time.Second, proxy.Heal) // well beyond the session timeout
			})
		}
	})
	sourceWaitFor(t, 60*time.Second, "the session to expire and a re-walk", func() bool {
		st := src.Stats()
		return st.SessionExpiries >= 1 && st.Walks >= 2
	})

	want := readTree(t, admin)
	var last []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := newModel()
		replayInto(m, pub.snapshot()...)
		if last = diffTrees(want, m.nodes); len(last) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay never matched the primary after expiry:\n%s", strings.Join(last, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkPerPathOrder(t, pub.snapshot())
	t.Logf("stats: %+v", src.Stats())
}

func TestSourcePublishErrorIsPermanent(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/a", nil)
	boom := errors.New("journal: fenced")
	pub := &fakePub{fail: boom}
	src, err := New(testSourceConfig(t, zks.Servers()), pub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = src.Run(ctx)
	if !errors.Is(err, boom) || !errors.Is(err, ErrPublish) {
		t.Fatalf("run returned %v, want the publish error wrapped in ErrPublish", err)
	}
}

// A journal that refuses the source's lineage (fenced by a newer writer, or
// at a higher epoch) stops the source for good: Run returns a permanent
// replicator.StopError that still matches the journal's sentinel. Any other
// publish error stops only this run.
func TestSourceFencedJournalIsPermanent(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/a", nil)
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"fenced", fmt.Errorf("append: %w", journal.ErrFenced), true},
		{"stale epoch", fmt.Errorf("append: %w", journal.ErrStaleEpoch), true},
		{"other", errors.New("nats: timeout"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := New(testSourceConfig(t, zks.Servers()), &fakePub{fail: tc.err})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err = src.Run(ctx)
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrPublish) {
				t.Fatalf("run returned %v, want the publish error wrapped in ErrPublish", err)
			}
			if got := replicator.IsPermanent(err); got != tc.permanent {
				t.Fatalf("IsPermanent(%v) = %t, want %t", err, got, tc.permanent)
			}
		})
	}
}

// openRefusedPub is a publisher whose journal refuses it when opened.
type openRefusedPub struct {
	fakePub
	err error
}

func (p *openRefusedPub) Open(context.Context) error { return p.err }

// A journal that refuses the source's lineage when the source opens it (the
// appender finds a newer epoch at the tail) stops the source for good as well:
// a permanent StopError of the source's "open", matching the sentinel.
func TestSourceOpenRefusedIsPermanent(t *testing.T) {
	refused := fmt.Errorf("%w: stream ZKDR_east sequence 9 has epoch 3", journal.ErrStaleEpoch)
	src, err := New(testSourceConfig(t, []string{"127.0.0.1:1"}), &openRefusedPub{err: refused})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(context.Background())
	var stop *replicator.StopError
	if !errors.As(err, &stop) || !stop.Permanent || stop.Component != "source" || stop.Op != "open" {
		t.Fatalf("run returned %#v, want a permanent StopError of the source's open", err)
	}
	if !errors.Is(err, journal.ErrStaleEpoch) {
		t.Fatalf("run returned %v, want it to match journal.ErrStaleEpoch", err)
	}
}

// TestSourceACLChanges: setACL fires no watch; the periodic re-read publishes it,
// and a data change after a setACL carries the new ACL.
func TestSourceACLChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/a", []byte("1"))
	mustCreate(t, admin, "/b", []byte("1"))
	pub := &fakePub{}
	cfg := testSourceConfig(t, zks.Servers())
	cfg.ACLRecheckInterval = 500 * time.Millisecond
	src := runSource(t, cfg, pub)
	sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })

	acl := zk.DigestACL(zk.PermRead|zk.PermAdmin, "bob", "pw")
	if _, err := admin.SetACL("/a", acl, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetACL("/b", acl, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Set("/b", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	want := readTree(t, admin)
	var last []string
	sourceWaitFor(t, 30*time.Second, "ACL changes in the journal", func() bool {
		m := newModel()
		replayInto(m, pub.snapshot()...)
		last = diffTrees(want, m.nodes)
		return len(last) == 0
	})
	kinds := map[string]journal.Kind{}
	for _, ev := range pub.snapshot() {
		if ev.Kind == journal.KindACL || ev.Kind == journal.KindUpdate {
			kinds[ev.Path] = ev.Kind
		}
	}
	if kinds["/a"] != journal.KindACL {
		t.Errorf("/a: want an acl event, got %v", kinds["/a"])
	}
	if kinds["/b"] != journal.KindUpdate {
		t.Errorf("/b: want an update carrying the ACL, got %v", kinds["/b"])
	}
}
