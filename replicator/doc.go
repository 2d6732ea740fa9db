// Package replicator moves a ZooKeeper tree from the active site to the standby
// through the journal. Its sub-packages are the two ends of that path:
//
//   - replicator/source watches the active ensemble (one persistent recursive
//     watch per root, or one-shot watches on older ensembles), writes the
//     heartbeat whose zxid is the watermark, and publishes every change as an
//     event to the active site's journal stream;
//   - replicator/applier reads the standby site's mirror of that stream and
//     writes the events into the standby ensemble in checkpointed Multis, with
//     the delete guard; journal replay into a fresh cluster uses it too.
//
// Between them sit the journal (package journal: events, the fenced appender,
// the reader) and JetStream's mirror. The paths, the scope and the path
// mapping both ends share are in internal/zkpath; their ZooKeeper sessions
// are dialled by internal/zkconn.
//
// This package holds only what both ends and the daemon share: StopError,
// which says a component stopped for good, and the stages of replication
// latency with their reports.
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
