// Package replicator moves a ZooKeeper tree from the active site to the standby
// through the journal. The source (source*.go, walk.go, heartbeat.go, index.go,
// scope.go) watches the active ensemble and publishes events; the applier
// (applier*.go, checkpoint*.go, guard*.go) writes them into the standby ensemble.
//
// # Source
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
// TestIndexBytesPerZnode).
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
// its begin after a restart. A batch deleting more than DeleteGuardShare of the
// replicated nodes (and more than DeleteGuardMinNodes) pauses until
// `zkdr guard release` flips /zkdr/guard.
package replicator
