// Package source watches the active site's ensemble and publishes every change
// as an event to the journal (through a Publisher, a *journal.Appender in the
// daemon): a snapshot at bootstrap and on request, ordinary events between,
// and a heartbeat every HeartbeatInterval whose zxid is the watermark. The
// applier (package replicator/applier) writes the events into the standby.
//
// The source watches the active ensemble in one of two ways (Config.Watch):
// one persistent recursive watch per root (ZooKeeper 3.6+, the default where the
// ensemble accepts it), or two one-shot watches per node (older ensembles).
//
// # Recursive watch
//
// The watching session is spoken by internal/zkwire, a small client of the
// project's own for just the requests it needs (connect, auth, ping, addWatch,
// multiRead, getData, getACL, setData, create, setWatches2). go-zookeeper
// v1.0.4, used for every other session, has neither addWatch nor multiRead, and
// its requests cannot be issued asynchronously in a chosen order, which the
// ordering argument below rests on; its dialer seam would mean splicing frames
// into a connection it owns. Forks that add the calls change go-zookeeper's API.
//
// Session order. One goroutine issues every read of the watching session, in
// the order notifications arrive and walk steps come; ZooKeeper answers a
// session's requests in order, and one goroutine applies the answers in issue
// order. A read issued after a notification arrived shows the tree no earlier
// than that notification's change, and no earlier than any read issued before
// it (a read retried after a lost connection is issued again, and so is every
// later read issued before the retry). So the reads applied form a sequence of
// ever newer views of the tree, and the rules need no zxid comparisons:
//
//   - NodeCreated, NodeDataChanged and NodeDeleted each cause one getData of
//     the node, batched with the reads of the notifications around it in one
//     multiRead (at most 32 nodes); a NodeCreated also reads the ACL, after
//     the data, on the same session. No listing is ever needed to find a child.
//   - A node found missing: the incarnation the index holds is gone, and so
//     are its children: delete. A node of a new incarnation (another czxid):
//     delete and create, unless the index holds children of it, which can only
//     belong to a newer incarnation than the index's (the old one's children
//     were deleted before it, each reported by its own notification): then it
//     is updated in place, children kept.
//   - An unknown node whose parent the index lacks is dropped: the parent was
//     created after the read's notification was dispatched, so the parent's
//     NodeCreated, and after it the node's own, are still to come.
//
// Deletes carry the reply's zxid (the server's last applied transaction when
// it read, no smaller than the delete's): ZooKeeper 3.6-3.8 put -1 in a
// notification's zxid.
//
// Walks. A walk (the bootstrap, a catch-up, a later snapshot) runs on the same
// session, in the same order: steps of one multiRead of getData and getChildren
// for up to 32 nodes, up to 32 steps in flight, a node's children queued when
// its step is applied. ACLs of nodes the index does not know are read on
// BulkSessions extra sessions (getACL cannot be in a multiRead); an ACL read
// older than the data read beside it is redone on the watching session. A
// child the index holds that a later listing does not name is deleted. The
// watch is added before the bootstrap walk, so nothing that happens during it
// is missed. Each round of the dispatch loop issues the reads of every queued
// notification, then one walk step: a snapshot holds back the changes and the
// heartbeats that come meanwhile by one step at most.
//
// Watermark. /zkdr/heartbeat is written every HeartbeatInterval on the watching
// session. ZooKeeper applies transactions in zxid order and queues each one's
// notifications on a connection before the reply to a later write; zkwire
// hands notifications over before it completes a later reply. So when the
// heartbeat write's reply (zxid W) arrives, the notification of every change
// with a zxid below W is already queued, and the heartbeat queued behind them
// is published after their reads: the standby holds, for every path, its
// state as of W or a newer one. No read of the heartbeat node is needed.
//
// Reconnects and expiry. After a reconnect to any server within the session,
// zkwire re-adds the watches (setWatches2) before any other request, but
// ZooKeeper does not replay what a persistent watch missed meanwhile. So each
// reconnect queues a catch-up walk that compares the whole tree with the index
// (creates, updates, ACLs, deletes), and no heartbeat is published from the
// reconnect until that walk ends. After an expiry the watches are added again
// on the new session first, then the same walk runs.
//
// Older ensembles. A server without addWatch (before 3.6) answers
// UNIMPLEMENTED; one configured with WatchManagerOptimized refuses persistent
// watches. With Watch "auto" the source then runs on one-shot watches and says
// so in its log; with "recursive" it stops with ErrNoRecursiveWatch naming the
// server. The fallback stays because ZooKeeper 3.4 and 3.5 still run under
// many older Kafka, HBase and Solr clusters.
//
// # One-shot watches
//
// One watching session carries every watch. Bootstrap walks the tree in scope
// with ReadConcurrency reads in flight: GetW (data and a data watch) and ChildrenW
// (children and a child watch) on the watching session, GetACL on BulkSessions
// extra sessions (an ACL read older than the watched read is redone on the
// watching session). It publishes a fuzzy snapshot: snapshot-begin, one
// snapshot-node per node, snapshot-end, with ordinary events for changes seen
// meanwhile in between.
//
// Order. Every read is given a slot in the publish order before it is issued, and
// notifications get slots in the order the session delivers them; results are
// published strictly in slot order while the reads themselves run concurrently.
// A read is therefore published before anything its own watches report. Since
// reads overlap, a result can be older than one already published: the publish
// loop compares with the index (czxid, then mzxid) and drops stale reads, turns a
// larger czxid into delete + create, and takes a child missing from a listing as
// deleted only if it was created no later than the listing's pzxid.
//
// Steady state. A data notification re-reads the node (GetW) and publishes update
// (the ACL is re-read too when the aversion moved); a child notification re-lists
// (ChildrenW), publishes a create for each new child after reading its subtree
// with watches, and one delete per vanished child (the delete covers its subtree).
// NodeDeleted re-reads the path to catch a delete and re-create between listings.
//
// Watermark. /zkdr/heartbeat is written every HeartbeatInterval on the watching
// session and watched there. A new write is issued only after the previous one was
// read back, so the read that follows a heartbeat notification returns the write W
// that caused it; ZooKeeper delivers a session's notifications in zxid order, so
// every change with zxid <= W to a watched node was notified earlier and its read
// is published before the heartbeat event. Heartbeats are published only outside
// walks (from the end of the bootstrap snapshot on, and not during a re-walk).
//
// Sessions. Within a session go-zookeeper re-sends the watches with the last zxid
// seen and the server fires those whose nodes moved. When the session expires
// every watch is gone: once a new session is up the tree is walked again and the
// differences from the index (creates, updates, ACLs, deletes) are published.
//
// # Both
//
// ACLs. setACL fires no watch. An ACL change is published when any read shows a
// new aversion, and a background pass re-reads every ACL once per
// ACLRecheckInterval (default 60 s), spread evenly over it and capped at 1000
// reads/s: an ACL change alone reaches the journal within one interval, or
// within one pass at the cap on a tree too large for it (up to 60,000 znodes
// in 60 s; 300,000 znodes take 5 minutes).
//
// Modes. ZooKeeper 3.8 does not tell clients which nodes are containers or TTL
// nodes: DataNode.copyStat reports ephemeralOwner 0 for every non-NORMAL
// EphemeralType (verified against a server with extendedTypesEnabled), so both
// are seen, and replicated, as persistent nodes with their data, ACL and
// children. modeOf still decodes EphemeralType's encoding (container:
// 0x8000000000000000; TTL: high byte 0xFF, ttl in the low 40 bits) for any stat
// that carries it. Ephemeral nodes are skipped unless a scope rule says
// "persistent" (events then carry ModeEphemeral). Names ending in 10 digits are
// marked Sequential; every event carries the node's stat, cversion included.
// /zookeeper and /zkdr are never replicated. The root "/" is published like any
// node (its data and ACL), never created or deleted.
//
// Memory. The index keeps per znode only czxid, mzxid, pzxid, cversion,
// aversion, an interned ACL pointer and the path (child names share the path's
// bytes): about 130-150 bytes per znode, whatever the data size (see
// TestIndexBytesPerZnode). On a recursive watch it is the only per-znode state,
// in the source and in the server (one watch entry per root); one-shot watches
// add go-zookeeper's bookkeeping of two watches per node, and the server's.
package source
