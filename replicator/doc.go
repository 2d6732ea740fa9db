// Package replicator moves a ZooKeeper tree from the active site to the standby
// through the journal. The source (source*.go, watch*.go, walk.go, heartbeat.go,
// index.go, scope.go) watches the active ensemble and publishes events; the applier
// (applier*.go, checkpoint*.go, guard*.go) writes them into the standby ensemble.
//
// # Source
//
// The source watches the active ensemble in one of two ways (SourceConfig.Watch):
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
// ACLRecheckInterval (default 5 minutes), spread evenly over it and capped at 1000
// reads/s: an ACL change alone reaches the journal within one interval (for
// 300,000 znodes at the cap, within 5 minutes).
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
//
// # Applier
//
// The applier writes one journal stream into the standby. It keeps an index of
// the standby's replicated nodes (walked at start) so every batch is a Multi of
// exact ops that ends with a check of the applier's fencing token (the version
// of /zkdr/owner, set once by each applier run at start) and a version-checked
// write of /zkdr/applied: a change and the checkpoint that covers it commit
// together, and once a second applier has claimed the standby every Multi of
// the first fails and stops it. A refused batch is planned again against
// a freshly read standby, then as a last resort applied op by op with
// idempotent translation. ACL changes and container/TTL creates cannot go in a
// Multi; messages holding them are applied in steps whose repetition after a
// crash converges, as does a subtree delete larger than one Multi.
//
// Reads. The index walk (Children of every node) and the ACL reads before a
// fetched backlog is planned are spread over the applier's session and
// BulkSessions extra ones, each synced before the walk; a node whose ACL the
// index does not know has not been written by the applier since, so a synced
// session's read of it is current.
//
// Sequence counters. ZooKeeper numbers a sequential child with the parent's
// count of child creations (the reported cversion counts deletions too). The
// applier keeps every standby parent's counter at or above the primary's with
// create+delete pairs of <parent>/.zkdr-pad (each pair raises it by one), so
// after a promotion a sequential create returns a name that sorts after every
// replicated child.
//
// Snapshots and the delete guard. A snapshot-end deletes what the snapshot did
// not mention; an open snapshot is recorded in the checkpoint and re-read from
// its begin after a restart. The delete guard (guard_rule.go) judges the
// deletes between two heartbeats as one group: a recursive watch reports a
// subtree's delete node by node, and a primary transaction's deletes all come
// before the heartbeat that follows it. A message that deletes waits for the
// heartbeat that closes its group (while the source keeps sending, up to
// 30 s; 2 s once it goes quiet), a dry run plans the group,
// and a group that would leave the tree more than DeleteGuardShare (and more
// than DeleteGuardMinNodes) below the largest size it had within
// DeleteGuardWindow of primary time is held before any of it is applied, until
// `zkdr guard release` flips /zkdr/guard. Nodes with sequence-shaped names
// (queue items, locks, elections) are not weighed. The window lives in the
// checkpoint, so the verdicts are a function of the journal: neither batching
// nor restarts change them.
//
// # Stages
//
// Where the lag is spent (stages.go). The source times commit → seen, from a
// created or changed node's mtime (the ZooKeeper leader's clock at the
// transaction) to the arrival of its read's reply (a stamp loop waits for
// each multiRead's reply in issue order; on one-shot watches, the read task's
// end), and hands that arrival to the appender, which times read → appended
// up to the acknowledgement of the message holding the event. The applier
// times appended → delivered, from the message's JetStream timestamp (the
// active site's store time: a mirror keeps the origin's) to the reader taking
// it from the mirror, and delivered → applied, up to the acknowledgement of
// the Multi whose checkpoint covers it. Two of the four compare two hosts'
// clocks. Each observation is a few atomic adds into journal.Histogram's
// fixed buckets; nothing is sampled. Stats carry the cumulative counts (for
// /metrics and the benchmarks), and every StageReportInterval each component
// writes p50 and p99 over the last minute to its ensemble's /zkdr/stages for
// zkdr status.
package replicator
