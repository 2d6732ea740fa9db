package e2e

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/configs"
)

// Container and TTL modes, which ZooKeeper shows clients as persistent, reach
// the standby when declared (replication { mode "<pattern>" { ... } }). No
// client can read a node's mode, so the test checks what only that mode does:
// the standby's own ZooKeeper removes an emptied container, and an unmodified
// childless TTL node once its TTL has passed. Both checks run on west alone
// (east keeps its nodes); a persistent node would stay.
func TestDeclaredModes(t *testing.T) {
	const ttl = 3 * time.Second
	p := newPair(t,
		withZKProps(map[string]string{"znode.container.checkIntervalMs": "200"}),
		withConfig(func(site string, c *configs.Config) {
			c.Replication.Modes = []configs.ModeRule{
				{Pattern: "/locks/*", Kind: configs.KindContainer},
				{Pattern: "/cache/*", Kind: configs.KindTTL, TTL: ttl},
			}
		}))
	east, west := p.conn["east"], p.conn["west"]
	open := zk.WorldACL(zk.PermAll)
	mustCreate(t, east, "/locks", nil, 0, nil)
	mustCreate(t, east, "/cache", nil, 0, nil)
	mustCreate(t, east, "/plain", nil, 0, nil)
	if _, err := east.CreateContainer("/locks/l1", []byte("lock"), zk.FlagContainer, open); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, east, "/locks/l1/holder", []byte("h"), 0, nil)
	mustCreate(t, east, "/plain/p1", []byte("p"), 0, nil)
	mustCreate(t, east, "/plain/p1/kid", []byte("k"), 0, nil)
	p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)

	// The cache node is created once the pair runs, so that west's copy is as
	// young as east's: both live until their TTL passes without a write.
	if _, err := east.CreateTTL("/cache/c1", []byte("v"), zk.FlagTTL, open, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "west to hold /cache/c1", func() bool {
		ok, _, _ := west.Exists("/cache/c1")
		return ok
	})
	waitFor(t, time.Minute, "west's ZooKeeper to expire its TTL copy of /cache/c1", func() bool {
		ok, _, err := west.Exists("/cache/c1")
		return err == nil && !ok
	})
	if ok, _, _ := east.Exists("/cache/c1"); !ok {
		t.Fatal("east's /cache/c1 (ttl 1h) is gone: the check above proves nothing")
	}

	// Emptied on west only: a container goes, a persistent node stays.
	for _, p := range []string{"/locks/l1/holder", "/plain/p1/kid"} {
		if err := west.Delete(p, -1); err != nil {
			t.Fatalf("delete %s on west: %v", p, err)
		}
	}
	waitFor(t, time.Minute, "west's ZooKeeper to remove the emptied container /locks/l1", func() bool {
		ok, _, err := west.Exists("/locks/l1")
		return err == nil && !ok
	})
	if ok, _, _ := west.Exists("/plain/p1"); !ok {
		t.Fatal("west removed /plain/p1, a persistent node")
	}
}
