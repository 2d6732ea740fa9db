package source

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/journal"
)

func ttlOwner(u uint64) int64 { return int64(u) }

func TestModeOf(t *testing.T) {
	for _, c := range []struct {
		owner int64
		mode  journal.Mode
		ttl   int64
	}{
		{0, journal.ModePersistent, 0},
		{math.MinInt64, journal.ModeContainer, 0},
		{ttlOwner(0xff00000000000000 | 3600000), journal.ModeTTL, 3600000},
		{0x100000a3f2c0001, journal.ModeEphemeral, 0},
		// High byte 0xFF with reserved extended-type bits set is not a TTL.
		{ttlOwner(0xff01000000000000 | 5), journal.ModeEphemeral, 0},
	} {
		if m, ttl := modeOf(c.owner); m != c.mode || ttl != c.ttl {
			t.Errorf("modeOf(%#x) = %s/%d, want %s/%d", uint64(c.owner), m, ttl, c.mode, c.ttl)
		}
	}
	for name, want := range map[string]bool{"seq-0000000001": true, "0000000000": true, "x000000001": false, "n000123": false} {
		if got := isSequentialName(name); got != want {
			t.Errorf("isSequentialName(%q) = %v", name, got)
		}
	}
}

func TestIndexLinksAndDrops(t *testing.T) {
	x := newIndex()
	x.put("/", entry{czxid: 0}, true)
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d", "/e"} {
		x.put(p, entry{czxid: 1}, false)
	}
	kids := x.children("/a")
	sort.Strings(kids)
	if fmt.Sprint(kids) != "[b d]" {
		t.Fatalf("children(/a) = %v", kids)
	}
	x.drop("/a/b")
	if _, ok := x.get("/a/b/c"); ok {
		t.Fatal("subtree not dropped")
	}
	if fmt.Sprint(x.children("/a")) != "[d]" || x.len() != 4 {
		t.Fatalf("after drop: children %v len %d", x.children("/a"), x.len())
	}
	a1 := x.internACL(zk.WorldACL(zk.PermAll))
	a2 := x.internACL(zk.WorldACL(zk.PermAll))
	if a1 != a2 {
		t.Fatal("equal ACLs not interned")
	}
}

// TestIndexBytesPerZnode measures the index's memory per znode for a tree shaped
// like the benchmark's (100 parents of 1,000 children).
func TestIndexBytesPerZnode(t *testing.T) {
	const parents, children = 100, 1000
	paths := make([]string, 0, parents*children+parents)
	for i := 0; i < parents; i++ {
		paths = append(paths, fmt.Sprintf("/bench/d%04d", i))
		for j := 0; j < children; j++ {
			paths = append(paths, fmt.Sprintf("/bench/d%04d/n%06d", i, j))
		}
	}
	acl := zk.WorldACL(zk.PermAll)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := newIndex()
	x.put("/bench", entry{}, true)
	shared := x.internACL(acl)
	for i, p := range paths {
		// Paths arrive as fresh strings from the reads, as in the source.
		x.put(string([]byte(p)), entry{czxid: int64(i), mzxid: int64(i), acl: shared}, false)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(paths))
	t.Logf("index: %d znodes, %.0f bytes per znode (paths of %d bytes)", len(paths), per, len(paths[len(paths)-1]))
	if per > 150 {
		t.Errorf("index uses %.0f bytes per znode, want < 150", per)
	}
	runtime.KeepAlive(x)
}
