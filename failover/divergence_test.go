package failover

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"maps"
	"slices"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/internal/zktree"
)

func TestFindDivergence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	ctx := context.Background()
	oldSite, newSite := zktest.StartSite(t), zktest.StartSite(t)
	old, active := zktest.Dial(t, oldSite.Servers()), zktest.Dial(t, newSite.Servers())
	world := zk.WorldACL(zk.PermAll)
	readOnly := zk.WorldACL(zk.PermRead)
	mk := func(c *zk.Conn, p, data string, acl []zk.ACL, flags int32) {
		t.Helper()
		if _, err := c.Create(p, []byte(data), flags, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	// Both sites agree on these.
	for _, c := range []*zk.Conn{old, active} {
		mk(c, "/app", "", world, 0)
		mk(c, "/app/same", "s", world, 0)
		mk(c, "/zkdr", "", world, 0)
	}
	// Writes that never left the old primary...
	mk(old, "/app/changed", "old", world, 0)
	mk(old, "/app/acl", "a", world, 0)
	mk(old, "/app/both", "old", world, 0)
	mk(old, "/app/gone", "lost", world, 0)
	mk(old, "/app/gone/child", "lost too", world, 0)
	mk(old, "/app/session", "e", world, zk.FlagEphemeral)
	mk(old, "/zkdr/site-local", "x", world, 0)
	// ...and what the active site has instead.
	mk(active, "/app/changed", "new", world, 0)
	mk(active, "/app/acl", "a", readOnly, 0)
	mk(active, "/app/both", "new", readOnly, 0)
	mk(active, "/app/only-new", "n", world, 0)

	tree, err := zktree.Walk(ctx, active, "/", zktree.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := func(yield func(ActiveNode, error) bool) {
		for _, p := range slices.Sorted(maps.Keys(tree)) {
			if !yield(ActiveNode{Path: p, Data: tree[p].Data, ACL: tree[p].ACL}, nil) {
				return
			}
		}
	}
	got, err := FindDivergence(ctx, old, iter.Seq2[ActiveNode, error](nodes), DivergenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/app/acl":        ReplacedByACL,
		"/app/both":       ReplacedByDataACL,
		"/app/changed":    ReplacedByData,
		"/app/gone":       ReplacedByDeleted,
		"/app/gone/child": ReplacedByDeleted,
	}
	gotMap := map[string]string{}
	for _, n := range got {
		gotMap[n.Path] = n.ReplacedBy
	}
	if !maps.Equal(gotMap, want) {
		t.Fatalf("divergence %v, want %v", gotMap, want)
	}
	for _, n := range got {
		if n.Path == "/app/changed" && (string(n.Data) != "old" || n.Stat.Mzxid == 0 || len(n.ACL) != 1) {
			t.Fatalf("the old node's state is not kept: %+v", n)
		}
	}

	// The report keeps every byte.
	var buf bytes.Buffer
	w := NewDivergenceWriter(&buf)
	for _, n := range got {
		if err := w.Write(n); err != nil {
			t.Fatal(err)
		}
	}
	if w.Count() != len(got) {
		t.Fatalf("count %d, want %d", w.Count(), len(got))
	}
	sc := bufio.NewScanner(&buf)
	var lines []map[string]any
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, line)
	}
	if len(lines) != len(got) {
		t.Fatalf("%d lines, want %d", len(lines), len(got))
	}
	for _, key := range []string{"path", "data", "stat", "acl", "replaced_by"} {
		if _, ok := lines[0][key]; !ok {
			t.Fatalf("line lacks %q: %v", key, lines[0])
		}
	}
	var back DivergentNode
	first, _ := json.Marshal(got[0])
	if err := json.Unmarshal(first, &back); err != nil || !bytes.Equal(back.Data, got[0].Data) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}
