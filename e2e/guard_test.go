package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/workload"
	"github.com/zkdr/zkdr/replicator/applier"
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

// countTree counts the nodes under root (root included); 0 if there is none.
func countTree(t *testing.T, c *zk.Conn, root string) int {
	t.Helper()
	kids, _, err := c.Children(root)
	if errors.Is(err, zk.ErrNoNode) {
		return 0
	}
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
	west := p.conn["west"]
	p.start("east")
	p.start("west")
	waitFor(t, 2*time.Minute, "the standby to apply a heartbeat", func() bool {
		return readCheckpoint(t, west).WatermarkZxid > 0
	})
	backup := backupData(t, p, "east")

	w := startWorkload(t, p, 3, 300, 200)
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = w.Close() // the application is gone with its site
	p.waitConverged(2 * time.Minute)
	appNodes := func() int {
		n := 0
		for _, root := range w.Roots() {
			n += countTree(t, west, root)
		}
		return n
	}
	before := appNodes()

	restoreData(t, p, "east", backup)
	// The test's own session has seen zxids the restored server never
	// reached, so the server refuses it: compare through a new one.
	p.conn["east"] = dial(t, p.zk["east"].Servers())
	waitFor(t, 2*time.Minute, "the delete guard to pause the standby", func() bool {
		g, ok, err := applier.ReadGuard(context.Background(), west)
		return err == nil && ok && g.State == applier.GuardPaused
	})
	if n := appNodes(); n != before {
		t.Fatalf("the standby holds %d nodes while paused, had %d", n, before)
	}
	out, err := p.zkdr("guard", "release", "--config", p.configFile("west"))
	if err != nil {
		t.Fatalf("zkdr guard release: %v\n%s", err, out)
	}
	p.waitConverged(2 * time.Minute)
	for _, root := range w.Roots() {
		if ok, _, _ := west.Exists(root); ok {
			t.Fatalf("%s is still on the standby after the release", root)
		}
	}
}

// startWorkload populates east with the application workload (about 2,000
// znodes, a Kafka topic of 100 partitions among them) and returns it, ready
// to Run ops more operations at rate per second (0 ops: until Run's context
// ends).
func startWorkload(t *testing.T, p *pair, seed uint64, ops int64, rate float64) *workload.Workload {
	t.Helper()
	cfg := workload.DefaultConfig()
	cfg.Servers, cfg.Auth, cfg.Seed = p.zk["east"].Servers(), superAuth, seed
	cfg.Ops, cfg.Rate = ops, rate
	cfg.Logger = p.logger.Named("workload")
	w, err := workload.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.Populate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.CreateTopic(context.Background(), "orders", 100); err != nil {
		t.Fatal(err)
	}
	return w
}

// Guarantee 8, with the defaults: deleting a Kafka topic of 100 partitions
// (about 200 znodes, 10 % of the tree) while the standby's daemon is down does
// not pause it when it comes back to a backlog; the standby converges.
func TestGuardTopicDeletionAcrossRestart(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	p.start("east")
	wd := p.start("west")
	w := startWorkload(t, p, 5, 300, 200)
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.waitConverged(2 * time.Minute)
	total := countTree(t, east, "/")

	wd.stop()
	n, err := w.DeleteTopic(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	wd = p.start("west")
	p.waitConverged(2 * time.Minute)
	if _, ok, err := applier.ReadGuard(context.Background(), west); err != nil || ok {
		t.Fatalf("guard node on the standby: %v, %v", ok, err)
	}
	if st := wd.d.Status(); st.Applier == nil || st.Applier.GuardPauses != 0 {
		t.Fatalf("the guard paused the restarted standby: %+v", st.Applier)
	}
	t.Logf("a topic of %d znodes deleted from a tree of %d behind the standby's back: no pause", n, total)
}
