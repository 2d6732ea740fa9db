package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/failover/site"
)

// The deposed primary's tail: east journals writes that never reach west (the
// link is down), then east is lost and west is promoted, so those writes are
// lost by the promotion and east's rejoin reports and discards them. East's
// stream still holds them, and once the link is back west's mirror receives
// them. After a switchover back to east, west follows east's stream again from
// its old checkpoint: it must skip that epoch-1 tail, not apply it.
func TestStaleTailAfterPromoteAndSwitchback(t *testing.T) {
	p := newPair(t)
	east := p.conn["east"]
	seedTree(t, east, "/seed", 20)
	mustCreate(t, east, "/tail", nil, 0, nil)
	p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)
	p.waitApplying("west")

	p.link.Cut()
	const lost = 15
	var last int64
	for i := 0; i < lost; i++ {
		path := fmt.Sprintf("/tail/lost-%02d", i)
		mustCreate(t, east, path, []byte("east only"), 0, nil)
		_, st, err := east.Exists(path)
		if err != nil {
			t.Fatal(err)
		}
		last = st.Mzxid
	}
	waitFor(t, time.Minute, "east to journal the writes west will not get", func() bool {
		st := p.daemons["east"].d.Status().Source
		return st != nil && st.LastHeartbeatZxid > last
	})

	// East is lost; west is promoted at epoch 2.
	if err := p.zk["east"].Kill(0); err != nil {
		t.Fatal(err)
	}
	p.nats["east"].Shutdown()
	p.daemons["east"].stop()
	if out, logs, err := runZkdr("promote", "--config", p.configFile("west"), "--json"); err != nil {
		t.Fatalf("promote: %v\n%s\n%s", err, out, tail(logs, 8000))
	}
	p.waitRecord("west", site.RoleActive, 2)

	// East returns with its journal, rejoins as west's standby, and the link
	// heals: west's mirror of east's stream now receives the epoch-1 tail.
	ed := p.rejoinAfterLoss("east", 2)
	p.waitConverged(3 * time.Minute)
	// The rejoin itself removed east's lost tail, so the trees can be equal
	// before east's applier has applied a heartbeat, which a switchover needs.
	waitFor(t, 2*time.Minute, "east's applier to apply a heartbeat", func() bool {
		st := ed.d.Status().Applier
		return st != nil && st.WatermarkZxid > 0
	})
	for i := 0; i < lost; i++ {
		if ok, _, _ := p.conn["east"].Exists(fmt.Sprintf("/tail/lost-%02d", i)); ok {
			t.Fatalf("/tail/lost-%02d survived east's rejoin", i)
		}
	}

	// Back to east by a planned switchover: east active at epoch 3.
	if out, logs, err := runZkdr("switchover", "--config", p.configFile("west"), "--json"); err != nil {
		t.Fatalf("switchover: %v\n%s\n%s", err, out, tail(logs, 8000))
	}
	p.waitRecord("east", site.RoleActive, 3)
	p.waitRecord("west", site.RoleStandby, 3)
	mustCreate(t, p.conn["east"], "/tail/after", []byte("epoch 3"), 0, nil)
	waitFor(t, 2*time.Minute, "west to apply east's epoch-3 write", func() bool {
		ok, _, _ := p.conn["west"].Exists("/tail/after")
		return ok
	})
	p.waitConverged(2 * time.Minute)
	for i := 0; i < lost; i++ {
		if ok, _, _ := p.conn["west"].Exists(fmt.Sprintf("/tail/lost-%02d", i)); ok {
			t.Fatalf("west applied /tail/lost-%02d from east's deposed epoch-1 tail", i)
		}
	}
	st := p.daemons["west"].d.Status().Applier
	if st == nil || st.StaleSkipped == 0 {
		t.Fatalf("west's applier skipped no stale events: %+v", st)
	}
	t.Logf("west skipped %d events of east's deposed tail", st.StaleSkipped)

	// An operator asks for a fresh snapshot from the standby's side: the
	// request reaches the active site and the snapshot shows in west's mirror.
	out, logs, err := runZkdr("snapshot", "--config", p.configFile("west"), "--reason", "e2e", "--wait", "2m")
	if err != nil || !strings.Contains(out, "complete in ZKDR_east") {
		t.Fatalf("zkdr snapshot: %v\n%s\n%s", err, out, tail(logs, 4000))
	}
	t.Logf("zkdr snapshot: %s", strings.TrimSpace(out))
}
