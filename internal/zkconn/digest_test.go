package zkconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zktest"
)

// TestTreeDigest: the digest stays put through sessions and failed requests,
// and moves with every kind of change to the tree.
func TestTreeDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	zks := zktest.Start(t)
	conn := zktest.Admin(t, zks.Servers())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range []string{"/a", "/a/b", "/c"} {
		if _, err := conn.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	digest := func() zkconn.Digest {
		t.Helper()
		d, err := zkconn.TreeDigest(ctx, conn)
		if err != nil {
			t.Fatalf("tree digest: %v", err)
		}
		return d
	}
	base := digest()

	// Another session comes and goes; a request fails.
	other, err := zkconn.Dial(ctx, zkconn.Config{Servers: zks.Servers(), SessionTimeout: 4 * time.Second}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	if _, err := conn.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); err == nil {
		t.Fatal("create of an existing node succeeded")
	}
	if again := digest(); again.Value != base.Value || again.Zxid <= base.Zxid {
		t.Fatalf("digest moved without a change: %+v then %+v", base, again)
	}

	changes := []struct {
		name string
		do   func() error
	}{
		{"set data", func() error { _, err := conn.Set("/a/b", []byte("x"), -1); return err }},
		{"set the same data again", func() error { _, err := conn.Set("/a/b", []byte("x"), -1); return err }},
		{"set acl", func() error { _, err := conn.SetACL("/c", zk.WorldACL(zk.PermRead), -1); return err }},
		{"create", func() error { _, err := conn.Create("/c/d", nil, 0, zk.WorldACL(zk.PermAll)); return err }},
		{"delete", func() error { return conn.Delete("/c/d", -1) }},
	}
	prev := digest()
	for _, c := range changes {
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		d := digest()
		if d.Value == prev.Value {
			t.Errorf("%s: digest unchanged (%d)", c.name, d.Value)
		}
		prev = d
	}
}
