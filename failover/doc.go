// Package failover owns site records, epochs, promotion, switchover, rejoin and
// the client HostProvider that moves ZooKeeper clients to the active site.
//
// # Site records and epochs
//
// Each ensemble holds its own record at RecordPath (/zkdr/site, never
// replicated), a JSON document:
//
//	{"site":"east","role":"active","epoch":1,"since":"2025-01-02T03:04:05.123456789Z",
//	 "changed_by":"initial_role","reason":"no site record existed"}
//
// role is active, standby or fenced. EnsureRecord creates the record from the
// config's initial_role only while there is none (active starts at epoch 1, the
// first journal lineage; standby at 0, never active); from then on the record
// rules. WriteRecord is a compare-and-set on the stat version read before, so of
// two concurrent writers one wins and the other gets ErrVersionConflict, and it
// refuses to lower the epoch (ErrEpochRegression). A promotion takes
// NextEpoch(all known records) = max + 1. ActiveSite says which record clients
// follow: the one that says active at the highest epoch of all. WatchRecord
// follows one ensemble's record through reconnects and session expiry.
//
// # Client cutover
//
// Clients written in Go with go-zookeeper follow the active site with Connect:
//
//	cfg := failover.DefaultClientConfig()
//	cfg.Sites = []failover.Site{
//		{Name: "east", Servers: []string{"zk1.east:2181", "zk2.east:2181", "zk3.east:2181"}},
//		{Name: "west", Servers: []string{"zk1.west:2181", "zk2.west:2181", "zk3.west:2181"}},
//	}
//	conn, events, err := failover.Connect(ctx, cfg)
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
// fence and a promotion) it refuses to dial, which holds clients off. A session
// never survives the move: the other ensemble does not know it, and would even
// refuse the reconnect outright because the client has seen higher zxids than
// its own; go-zookeeper v1.0.4 resets its last zxid only on a session expiry.
// So the provider clears the last-zxid field of the first connect request sent
// to the new site; that site then declares the session expired, and
// go-zookeeper opens a fresh session there within the same *zk.Conn.
//
// Other clients learn about role changes from Hooks: commands run with
// ZKDR_SITE, ZKDR_ROLE, ZKDR_EPOCH and ZKDR_CONNECT in their environment, and an
// optional file rewritten atomically with the active connect string.
//
// # Rejoin
//
// Before a returning old primary is overwritten by a snapshot of the new active
// site, FindDivergence lists its nodes that would be overwritten or deleted and
// a DivergenceWriter records them as JSON lines (path, data in base64, stat,
// acl, replaced_by), so no write that never left the old datacenter is lost
// silently.
package failover
