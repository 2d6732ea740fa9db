// Package applier writes one journal stream into the standby's ensemble:
// batched, checkpointed, exactly-once Multis, the parents' sequence counters
// carried (pad.go), the delete guard (guard*.go), and Replay, which builds a
// fresh cluster from the journal up to a point in time with the same code.
//
// One connected pass of the applier (pass.go) fetches messages and plans them
// against an index of the standby (tree.go, batch.go); plain batches are sent
// as pipelined Multis (pipeline.go), each ending with the owner check and the
// checkpoint write (commit.go, checkpoint.go); a refused Multi is recovered
// from (refusal.go), and a retention gap starts a resync from the next
// snapshot (resync.go).
//
// The applier keeps an index of the standby's replicated nodes (walked at
// start, or read from the file a clean stop saved when ZooKeeper's tree digest
// shows nobody else wrote the standby since: warm.go) so every batch is a
// Multi of exact ops that ends with a check of the applier's fencing token (the version
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
package applier
