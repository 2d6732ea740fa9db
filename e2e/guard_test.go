package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkdr/zkdr/replicator"
)

// restoreData stops the server of a standalone ensemble, puts the backup taken
// by backupData in place of its data and starts it again: the primary restored
// from an old snapshot.
func backupData(t *testing.T, p *pair, site string) string {
	t.Helper()
	c := p.zk[site]
	if err := c.Stop(0); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), site+"-backup")
	if err := os.CopyFS(backup, os.DirFS(c.DataDir(0))); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	return backup
}

func restoreData(t *testing.T, p *pair, site, backup string) {
	t.Helper()
	c := p.zk[site]
	if err := c.Stop(0); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(c.DataDir(0)); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(c.DataDir(0), os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
}

// countTree counts the nodes under root (root included).
func countTree(t *testing.T, c *zk.Conn, root string) int {
	t.Helper()
	kids, _, err := c.Children(root)
	if err != nil {
		t.Fatalf("list %s: %v", root, err)
	}
	n := 1
	for _, k := range kids {
		n += countTree(t, c, strings.TrimSuffix(root, "/")+"/"+k)
	}
	return n
}

// Guarantee 8, with the defaults: a primary restored from a snapshot taken
// before its tree was written pauses the standby before anything is deleted
// there, and a release then converges.
func TestGuardPrimaryRestoredFromEmptySnapshot(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	p.start("east")
	p.start("west")
	waitFor(t, 2*time.Minute, "the standby to apply a heartbeat", func() bool {
		return readCheckpoint(t, west).WatermarkZxid > 0
	})
	backup := backupData(t, p, "east")

	mustCreate(t, east, "/app", nil, 0, nil)
	for i := range 20 {
		parent := fmt.Sprintf("/app/t%02d", i)
		ops := []any{&zk.CreateRequest{Path: parent, Acl: zk.WorldACL(zk.PermAll)}}
		for k := range 99 {
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/p%02d", parent, k), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)})
		}
		if _, err := east.Multi(ops...); err != nil {
			t.Fatal(err)
		}
	}
	p.waitConverged(2 * time.Minute)
	before := countTree(t, west, "/app")

	restoreData(t, p, "east", backup)
	waitFor(t, 2*time.Minute, "the delete guard to pause the standby", func() bool {
		g, ok, err := replicator.ReadGuard(context.Background(), west)
		return err == nil && ok && g.State == replicator.GuardPaused
	})
	if n := countTree(t, west, "/app"); n != before {
		t.Fatalf("the standby holds %d nodes under /app while paused, had %d", n, before)
	}
	out, err := p.zkdr("guard", "release", "--config", p.configFile("west"))
	if err != nil {
		t.Fatalf("zkdr guard release: %v\n%s", err, out)
	}
	p.waitConverged(2 * time.Minute)
	if ok, _, _ := west.Exists("/app"); ok {
		t.Fatal("/app is still on the standby after the release")
	}
}
