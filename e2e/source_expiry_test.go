package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/faultproxy"
)

// Guarantee 1 when the source's ZooKeeper session expires: east's daemon
// reaches its ensemble through a proxy that is paused (connections stay open,
// no bytes move) for several session timeouts while nodes are created and
// deleted. The source must notice the expiry, re-walk, and publish the
// differences, deletes made while it was cut off included.
func TestSourceSessionExpiry(t *testing.T) {
	const sessionTimeout = 2 * time.Second
	var link *faultproxy.Proxy
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		if site != "east" {
			// Most of the tree is deleted on purpose: the delete guard (tested
			// by TestDeleteGuard) would hold those deletes for an operator.
			c.Applier.DeleteGuardShare = 1
			return
		}
		px, err := faultproxy.New(c.ZooKeeper.Servers[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { px.Close() })
		link = px
		c.ZooKeeper.Servers = []string{px.Addr()}
		c.ZooKeeper.SessionTimeout = sessionTimeout
	}))
	east, west := p.conn["east"], p.conn["west"]
	const doomed = 150
	mustCreate(t, east, "/exp", nil, 0, nil)
	mustCreate(t, east, "/exp/keep", []byte("k"), 0, nil)
	mustCreate(t, east, "/exp/mix", nil, 0, nil)
	for i := 0; i < doomed; i++ {
		mustCreate(t, east, fmt.Sprintf("/exp/d-%03d", i), []byte("d"), 0, nil)
		mustCreate(t, east, fmt.Sprintf("/exp/d-%03d/kid", i), nil, 0, nil)
	}
	dm := p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)
	expiries := func() uint64 {
		if st := dm.d.Status(); st.Source != nil {
			return st.Source.SessionExpiries
		}
		return 0
	}
	before := expiries()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var ops int
	go func() { defer wg.Done(); ops = mixedWorkload(ctx, east, "/exp/mix", 3) }()

	link.Pause()
	paused := time.Now()
	for i := 0; i < doomed; i++ {
		if err := east.Delete(fmt.Sprintf("/exp/d-%03d/kid", i), -1); err != nil {
			t.Fatal(err)
		}
		if err := east.Delete(fmt.Sprintf("/exp/d-%03d", i), -1); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, east, fmt.Sprintf("/exp/n-%03d", i), []byte("n"), 0, nil)
	}
	if _, err := east.Set("/exp/keep", []byte("changed while expired"), -1); err != nil {
		t.Fatal(err)
	}
	// The fault lasts four session timeouts: the server expires the session.
	time.Sleep(4*sessionTimeout - time.Since(paused))
	link.Resume()
	waitFor(t, 2*time.Minute, "the source to see its session expire", func() bool { return expiries() > before })
	cancel()
	wg.Wait()
	t.Logf("%d workload operations; %d deletes and %d creates while the source was cut off", ops, 2*doomed, doomed)

	p.waitConverged(3 * time.Minute)
	for i := 0; i < doomed; i += 37 {
		if ok, _, _ := west.Exists(fmt.Sprintf("/exp/d-%03d", i)); ok {
			t.Fatalf("/exp/d-%03d, deleted while the source's session was expired, is still on west", i)
		}
	}
	if data, _, err := west.Get("/exp/keep"); err != nil || string(data) != "changed while expired" {
		t.Fatalf("west /exp/keep = %q (%v)", data, err)
	}
	st := dm.d.Status().Source
	t.Logf("source: %d session expiries, %d walks, %d events published", st.SessionExpiries, st.Walks, st.EventsPublished)
}
