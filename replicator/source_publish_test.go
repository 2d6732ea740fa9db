package replicator

import (
	"context"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/journal"
)

// newApplyOnlySource is a Source whose publish loop is driven by hand; results
// given to it must never need a read (no connection).
func newApplyOnlySource(t *testing.T) (*Source, *fakePub) {
	cfg := DefaultSourceConfig()
	cfg.Site, cfg.Servers = "east", []string{"127.0.0.1:1"}
	pub := &fakePub{}
	s, err := NewSource(cfg, pub)
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
	// A child created after a listing is not deleted by it.
	step(listing("/", 0, 70, "b"))
	step(full("/c", 80, 80, 80))
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
