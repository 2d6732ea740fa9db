package zktree

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkserver"
)

func connect(t *testing.T, c *zkserver.Cluster) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(c.Servers(), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func create(t *testing.T, conn *zk.Conn, p string, data string, acl []zk.ACL) {
	t.Helper()
	if _, err := conn.Create(p, []byte(data), 0, acl); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
}

// TestWalkAndDiff checks the witness itself: equal trees compare equal, and each
// kind of difference is reported.
func TestWalkAndDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	a := zkserver.StartT(t, zkserver.Config{})
	b := zkserver.StartT(t, zkserver.Config{})
	ca, cb := connect(t, a), connect(t, b)
	open := zk.WorldACL(zk.PermAll)
	readOnly := zk.WorldACL(zk.PermRead)
	for _, conn := range []*zk.Conn{ca, cb} {
		create(t, conn, "/app", "x", open)
		create(t, conn, "/app/a", "1", open)
		create(t, conn, "/app/b", "2", open)
		create(t, conn, "/app/c", "3", open)
		if _, err := conn.Create("/app/eph", nil, zk.FlagEphemeral, open); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	ta, err := Walk(ctx, ca, "/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Walk(ctx, cb, "/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(ta, tb); len(d) != 0 {
		t.Fatalf("equal trees differ: %v", d)
	}
	if ta.Digests()["/"] != tb.Digests()["/"] {
		t.Fatal("equal trees have different root digests")
	}
	if _, ok := ta["/app/eph"]; ok {
		t.Fatal("ephemeral node was walked")
	}
	if _, ok := ta["/zookeeper"]; ok {
		t.Fatal("/zookeeper was walked")
	}

	if _, err := cb.Set("/app/a", []byte("changed"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.SetACL("/app/b", readOnly, -1); err != nil {
		t.Fatal(err)
	}
	if err := cb.Delete("/app/c", -1); err != nil {
		t.Fatal(err)
	}
	create(t, cb, "/app/d", "4", open)
	tb, err = Walk(ctx, cb, "/", Options{DigestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if tb["/app/a"].Data != nil {
		t.Fatal("a digest-only walk kept data")
	}
	sum := Summarize(ta, tb)
	if len(sum) != 1 || sum[0].Path != "/app" || sum[0].Equal || sum[0].SourceNodes != 4 || sum[0].TargetNodes != 4 {
		t.Fatalf("summary: %+v", sum)
	}
	want := []Difference{
		{"/app/a", "data (1 bytes vs 7)"},
		{"/app/b", "acl"},
		{"/app/c", "missing on target"},
		{"/app/d", "extra on target"},
	}
	got := Diff(ta, tb)
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].What[:len(want[i].What)] != want[i].What {
			t.Errorf("difference %d: got %v, want %v", i, got[i], want[i])
		}
	}
}
