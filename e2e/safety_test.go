package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/replicator/applier"
)

// Guarantee 6: a sequential create on the standby (as after a promotion) under a
// replicated parent returns a name that is new and sorts after every replicated
// child, because the parent's cversion was carried.
func TestSequenceSafety(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/seq", nil, 0, nil)
	mustCreate(t, east, "/seq/early", nil, 0, nil)
	// Before the bootstrap: a counter well ahead of the number of children.
	for i := 0; i < 60; i++ {
		name := mustCreate(t, east, "/seq/early/n-", nil, zk.FlagSequence, nil)
		if i%3 != 0 {
			if err := east.Delete(name, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.start("east")
	p.start("west")
	mustCreate(t, east, "/seq/late", nil, 0, nil)
	for i := 0; i < 60; i++ {
		name := mustCreate(t, east, "/seq/late/n-", nil, zk.FlagSequence, nil)
		if i%3 != 0 {
			if err := east.Delete(name, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.waitConverged(2 * time.Minute)
	p.daemons["west"].stop()

	for _, parent := range []string{"/seq/early", "/seq/late"} {
		kids, _, err := west.Children(parent)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(kids)
		name, err := west.Create(parent+"/n-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		newest := kids[len(kids)-1]
		if got := name[len(parent)+1:]; got <= newest {
			t.Fatalf("%s: sequential create on the standby returned %s, not after the replicated %s", parent, got, newest)
		}
		t.Logf("%s: replicated children up to %s; new sequential name %s", parent, newest, name)
	}
}

// Guarantee 8: a group of deletes that would take more than the configured
// share of the standby's replicated nodes pauses the applier until released,
// and a guard hook hears of the pause and of the release.
func TestDeleteGuard(t *testing.T) {
	hookOut := filepath.Join(t.TempDir(), "guard-hook")
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.Applier.DeleteGuardShare = 0.10
		c.Applier.DeleteGuardMinNodes = 10
		c.Applier.GuardHooks = []configs.Hook{{Name: "pager", Timeout: 30 * time.Second,
			Command: []string{"/bin/sh", "-c", `echo "$ZKDR_SITE $ZKDR_GUARD $ZKDR_GUARD_DELETES" >> "` + hookOut + `"`}}}
	}))
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/keep", nil, 0, nil)
	mustCreate(t, east, "/mass", nil, 0, nil)
	var ops []any
	for i := 0; i < 300; i++ {
		ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("/mass/n%03d", i), Acl: zk.WorldACL(zk.PermAll)})
	}
	if _, err := east.Multi(ops...); err != nil {
		t.Fatal(err)
	}
	p.start("east")
	wd := p.start("west")
	p.waitConverged(2 * time.Minute)

	// A primary restored from an empty snapshot looks like this: everything goes.
	del := []any{}
	for i := 0; i < 300; i++ {
		del = append(del, &zk.DeleteRequest{Path: fmt.Sprintf("/mass/n%03d", i), Version: -1})
	}
	del = append(del, &zk.DeleteRequest{Path: "/mass", Version: -1})
	if _, err := east.Multi(del...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the delete guard to trip", func() bool {
		g, ok, err := applier.ReadGuard(context.Background(), west)
		return err == nil && ok && g.State == applier.GuardPaused
	})
	if st := wd.d.Status(); st.Applier == nil || st.Applier.Guard == nil || st.Applier.Guard.Deletes != 301 ||
		st.Applier.Guard.Since.IsZero() || st.Applier.GuardPauses != 1 {
		t.Fatalf("daemon status does not show the paused guard: %+v", st.Applier)
	}
	waitFor(t, time.Minute, "the guard hook to hear of the pause", func() bool {
		b, _ := os.ReadFile(hookOut)
		return string(b) == "west paused 301\n"
	})
	// Later changes wait behind the paused batch; nothing was deleted.
	mustCreate(t, east, "/keep/after", nil, 0, nil)
	time.Sleep(2 * time.Second) // give a broken guard time to let deletes through
	kids, _, err := west.Children("/mass")
	if err != nil || len(kids) != 300 {
		t.Fatalf("standby lost nodes while the guard was paused: %d children, %v", len(kids), err)
	}
	status, err := p.zkdr("status", "--config", p.configFile("west"))
	if err != nil || !strings.Contains(status, "PAUSED (301 deletes") {
		t.Fatalf("zkdr status does not show the paused guard (%v):\n%s", err, status)
	}
	out, err := p.zkdr("guard", "release", "--config", p.configFile("west"))
	if err != nil {
		t.Fatalf("zkdr guard release: %v\n%s", err, out)
	}
	t.Logf("zkdr guard release: %s", out)
	p.waitConverged(2 * time.Minute)
	waitFor(t, time.Minute, "the guard hook to hear of the release", func() bool {
		b, _ := os.ReadFile(hookOut)
		return string(b) == "west paused 301\nwest released 301\n"
	})
}
