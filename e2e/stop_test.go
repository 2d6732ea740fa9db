package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/configs"
)

// An applier stopped by an error only an operator can clear stays stopped: the
// daemon reports it and does not start it again (each start would redial and
// re-read the whole standby). Here the standby's ZooKeeper refuses TTL nodes,
// which the active site has (declared by a mode rule: ZooKeeper shows TTL
// nodes to clients as persistent ones).
func TestPermanentlyStoppedApplierIsNotRestarted(t *testing.T) {
	p := newPair(t, withPlainZK("west"), withConfig(func(site string, c *configs.Config) {
		c.Replication.Modes = []configs.ModeRule{{Pattern: "/app/lease", Kind: configs.KindTTL, TTL: time.Hour}}
	}))
	logs := captureLogs(p)
	east := p.conn["east"]
	mustCreate(t, east, "/app", nil, 0, nil)
	p.start("east")
	wd := p.start("west")
	p.waitConverged(2 * time.Minute)
	if _, err := east.CreateTTL("/app/lease", []byte("l"), zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the standby's daemon to report the stop", func() bool {
		return strings.Contains(wd.d.Status().LastErr, "refuses TTL nodes")
	})
	starts := logs.count("indexed the standby")
	// The daemon's retry of a runner backs off from 200 ms to 10 s: a
	// restart would come well within this.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if n := logs.count("indexed the standby"); n != starts {
			t.Fatalf("the applier was started again after a permanent stop (%d starts, then %d): %s", starts, n, wd.d.Status().LastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("stopped for good: %s", wd.d.Status().LastErr)
}
