package source

import (
	"context"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
)

// newApplyOnlySource is a Source whose publish loop is driven by hand; results
// given to it must never need a read (no connection).
func newApplyOnlySource(t *testing.T) (*Source, *fakePub) {
	cfg := DefaultConfig()
	cfg.Site, cfg.Servers = "east", []string{"127.0.0.1:1"}
	pub := &fakePub{}
	s, err := New(cfg, pub)
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

func full(p string, czxid, mzxid, pzxid int64, kids ...string) nodeRead {
	st := zk.Stat{Czxid: czxid, Mzxid: mzxid, Pzxid: pzxid}
	return nodeRead{path: p, exists: true, hasData: true, stat: st, data: []byte(p),
		acl: zk.WorldACL(zk.PermAll), aclStat: st, listed: true, kids: kids, lstat: st}
}

func listing(p string, czxid, pzxid int64, kids ...string) nodeRead {
	return nodeRead{path: p, exists: true, listed: true, kids: kids, lstat: zk.Stat{Czxid: czxid, Pzxid: pzxid}}
}

func kinds(evs []journal.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind.String()+" "+e.Path)
	}
	return out
}

// TestApplyGuards: pipelined reads reach the publish loop out of time order; the
// guards keep per-path order and never resurrect a deleted node.
func TestApplyGuards(t *testing.T) {
	ctx := context.Background()
	s, pub := newApplyOnlySource(t)
	step := func(nodes ...nodeRead) {
		t.Helper()
		if err := s.apply(ctx, result{kind: resNodes, nodes: nodes}); err != nil {
			t.Fatal(err)
		}
	}
	step(full("/", 0, 0, 10, "a"), full("/a", 10, 10, 10))
	step(full("/a", 10, 20, 10)) // update
	step(full("/a", 10, 15, 10)) // older read: dropped
	step(full("/a", 5, 30, 10))  // older incarnation: dropped
	step(full("/a", 40, 40, 40)) // re-created: delete then create
	// A listing of "/" taken at pzxid 50 without /a deletes it...
	step(listing("/", 0, 50))
	// ...and an older read of /a (czxid 40 <= 50), not named by a newer listing,
	// cannot bring it back.
	step(full("/a", 40, 45, 40))
	// An older listing than the last applied one is ignored (no delete of /b).
	step(listing("/", 0, 60, "b"), full("/b", 60, 60, 60))
	step(listing("/", 0, 55))
	// A read of a node created after the newest listing applied is dropped:
	// no listing vouches for it (it may hang under a newer incarnation of the
	// parent). The listing that names it brings it in.
	step(listing("/", 0, 70, "b"))
	step(full("/c", 80, 80, 80))
	step(listing("/", 0, 80, "b", "c"), full("/c", 80, 80, 80))
	step(listing("/", 0, 75, "b"))
	got := kinds(pub.snapshot())
	want := []string{"create /", "create /a", "update /a", "delete /a", "create /a", "delete /a", "create /b", "create /c"}
	if len(got) != len(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %q, want %q", got, want)
		}
	}
}

// newLiveApplySource is newApplyOnlySource with a real connection, for the
// guards that answer a doubt by reading the node again.
func newLiveApplySource(t *testing.T) (*Source, *fakePub, *zk.Conn) {
	t.Helper()
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	s, pub := newApplyOnlySource(t)
	s.conn = admin
	return s, pub, admin
}

func walkRead(n nodeRead, namedAt int64) result {
	n.walkNamed, n.namedAt = true, namedAt
	return result{kind: resNodes, nodes: []nodeRead{n}, walk: true, snapshot: 1}
}

// TestApplyWalkNamedWhilePending: a listing names a node the walk has queued,
// so it is left to the walk; the walk's read ran before the node was created
// and finds nothing. The node must still be read (and get its watches).
func TestApplyWalkNamedWhilePending(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	ctx := context.Background()
	s, pub, admin := newLiveApplySource(t)
	mustCreate(t, admin, "/w", nil)
	mustCreate(t, admin, "/w/k", []byte("new"))
	_, st, err := admin.Get("/w/k")
	if err != nil {
		t.Fatal(err)
	}
	big := st.Czxid + 1000 // fabricated listings are newer than anything real
	apply := func(r result) {
		t.Helper()
		if err := s.apply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	apply(result{kind: resWalkBegin, snapshot: 1})
	s.setPending("/")
	apply(walkRead(full("/", 0, 0, 1, "w"), 0))
	s.setPending("/w")
	apply(walkRead(full("/w", 1, 1, 2, "k"), 1))
	s.setPending("/w/k") // the walk queued /w/k (an older incarnation)
	// The old /w/k is deleted and the new one created; a child notification's
	// listing names it while the walk still has it queued.
	apply(result{kind: resNodes, nodes: []nodeRead{listing("/w", 1, big, "k")}})
	// The walk's read ran between the delete and the create.
	apply(walkRead(nodeRead{path: "/w/k"}, 2))
	apply(result{kind: resWalkEnd, snapshot: 1})
	var got *journal.Event
	for _, ev := range pub.snapshot() {
		if ev.Path == "/w/k" {
			got = &ev
		}
	}
	if got == nil || string(got.Data) != "new" || got.Stat.Czxid != st.Czxid {
		t.Fatalf("the node named while pending was never read: events %q", kinds(pub.snapshot()))
	}
}

// TestApplyWalkReadSuperseded: the walk's read of a node is older than a
// listing applied after the walk's listing of its parent. It cannot be trusted
// (it may resurrect a deleted node or publish an older incarnation after a
// newer one): the node is read again.
func TestApplyWalkReadSuperseded(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	ctx := context.Background()
	s, pub, admin := newLiveApplySource(t)
	mustCreate(t, admin, "/w", nil)
	mustCreate(t, admin, "/w/live", []byte("now"))
	_, st, err := admin.Get("/w/live")
	if err != nil {
		t.Fatal(err)
	}
	big := st.Czxid + 1000
	apply := func(r result) {
		t.Helper()
		if err := s.apply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	apply(result{kind: resWalkBegin, snapshot: 1})
	s.setPending("/")
	apply(walkRead(full("/", 0, 0, 1, "w"), 0))
	s.setPending("/w")
	apply(walkRead(full("/w", 1, 1, 2, "gone", "live"), 1))
	s.setPending("/w/gone", "/w/live")
	// A newer listing without /w/gone, with /w/live (left to the walk).
	apply(result{kind: resNodes, nodes: []nodeRead{listing("/w", 1, big, "live")}})
	// The walk's reads were taken before that listing: /w/gone (since deleted)
	// and an older incarnation of /w/live.
	apply(walkRead(full("/w/gone", 2, 2, 2), 2))
	old := full("/w/live", 2, 2, 2)
	old.data = []byte("old")
	apply(walkRead(old, 2))
	apply(result{kind: resWalkEnd, snapshot: 1})
	for _, ev := range pub.snapshot() {
		if ev.Path == "/w/gone" {
			t.Fatalf("a deleted node came back: events %q", kinds(pub.snapshot()))
		}
		if ev.Path == "/w/live" && (string(ev.Data) != "now" || ev.Stat.Czxid != st.Czxid) {
			t.Fatalf("/w/live published as %q czxid %d, want the current state: events %q", ev.Data, ev.Stat.Czxid, kinds(pub.snapshot()))
		}
	}
}
