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

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/replicator/source"
)

// A standby daemon stopped cleanly starts again from the index it saved,
// without walking the standby, and applies the backlog the active site wrote
// meanwhile. A write made on the standby behind its back while it is down
// (an ACL the saved index would trust, a node it does not know, data) is seen
// by the witness: that start walks the standby, and with a snapshot the
// standby converges.
func TestApplierWarmRestart(t *testing.T) {
	dir := t.TempDir()
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.Applier.IndexFile = filepath.Join(dir, site+"-index")
	}))
	east, west := p.conn["east"], p.conn["west"]
	p.start("east")
	standby := p.start("west")
	mustCreate(t, east, "/app", nil, 0, zk.WorldACL(zk.PermAll))
	for i := range 300 {
		mustCreate(t, east, fmt.Sprintf("/app/n%03d", i), []byte("v0"), 0, zk.WorldACL(zk.PermAll))
	}
	locked := zk.DigestACL(zk.PermAll, "alice", "alice-secret")
	mustCreate(t, east, "/app/locked", []byte("v0"), 0, locked)
	p.waitConverged(2 * time.Minute)

	start := func() string {
		t.Helper()
		standby = p.start("west")
		var how string
		waitFor(t, 2*time.Minute, "the standby's applier indexed the standby", func() bool {
			if st := standby.d.Status(); st.Applier != nil {
				how = st.Applier.Start
			}
			return how != ""
		})
		return how
	}
	stop := func() {
		t.Helper()
		standby.stop()
		if _, err := os.Stat(p.cfg["west"].Applier.IndexFile); err != nil {
			t.Fatalf("no index saved at the clean stop: %v", err)
		}
	}

	// A backlog while the standby's daemon is down.
	stop()
	for i := range 300 {
		p := fmt.Sprintf("/app/n%03d", i)
		var err error
		switch i % 3 {
		case 0:
			_, err = east.Set(p, []byte("v1"), -1)
		case 1:
			err = east.Delete(p, -1)
		case 2:
			_, err = east.Create(p+"/kid", []byte("k"), 0, zk.WorldACL(zk.PermAll))
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if how := start(); how != "warm" {
		t.Fatalf("start after a clean stop = %q, want warm", how)
	}
	p.waitConverged(2 * time.Minute)

	// Behind its back: the standby is written while its daemon is down.
	stop()
	if _, err := west.SetACL("/app/locked", zk.WorldACL(zk.PermAll), -1); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, west, "/app/intruder", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	if _, err := west.Set("/app/n000", []byte("tampered"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := east.Set("/app/locked", []byte("v1"), -1); err != nil {
		t.Fatal(err)
	}
	if how := start(); !strings.HasPrefix(how, "cold: the standby changed") {
		t.Fatalf("start after a write behind the applier's back = %q, want a cold start that names the change", how)
	}
	// The cold index knows the intruder and reads the locked node's ACL
	// before writing it; a snapshot then says what exists.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := source.RequestSnapshot(ctx, east, "west", "warm restart test"); err != nil {
		t.Fatal(err)
	}
	p.waitConverged(3 * time.Minute)
}
