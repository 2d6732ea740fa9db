// Package client moves ZooKeeper clients written in Go with go-zookeeper to
// the active site: Connect, the HostProvider and its Dial, and the Monitor
// that follows every site's record. It is the one part of zkdr an application
// links, and depends on go-zookeeper and package site alone (no config,
// journal, metrics or replicator).
//
//	import "github.com/zkdr/zkdr/failover/client"
//
//	cfg := client.DefaultClientConfig()
//	cfg.Sites = []client.Site{
//		{Name: "east", Servers: []string{"zk1.east:2181", "zk2.east:2181", "zk3.east:2181"}},
//		{Name: "west", Servers: []string{"zk1.west:2181", "zk2.west:2181", "zk3.west:2181"}},
//	}
//	conn, events, err := client.Connect(ctx, cfg)
//	if err != nil {
//		return err
//	}
//	defer conn.Close()
//	go func() {
//		for ev := range events {
//			if ev.State == zk.StateExpired {
//				// The session is gone, as after any expiry; on a site change
//				// this is how the move shows. Re-create ephemerals and
//				// watches once the state is StateHasSession again.
//			}
//		}
//	}()
//	// Use conn as any *zk.Conn; it always talks to the active site.
//
// Connect runs a Monitor (one session per site watching its record) and hands
// zk.Connect a HostProvider and its Dial method. go-zookeeper asks the provider
// for a server only when it reconnects, so on a change of the active site the
// provider closes the connection it dialed. While no site is active (between a
// fence and a promotion) it refuses to dial (site.ErrNotActive), which holds
// clients off. A session never survives the move: the other ensemble does not
// know it, and would even refuse the reconnect outright because the client has
// seen higher zxids than its own; go-zookeeper v1.0.4 resets its last zxid only
// on a session expiry. So the provider clears the last-zxid field of the first
// connect request sent to the new site; that site then declares the session
// expired, and go-zookeeper opens a fresh session there within the same
// *zk.Conn.
//
// Clients that are not written in Go learn about role changes from the site
// daemon's hooks (package daemon).
package client
