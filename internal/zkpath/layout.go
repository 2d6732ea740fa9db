package zkpath

// The layout of zkdr's per-site subtree. Each ensemble has its own /zkdr; it
// is never replicated. Every path zkdr reads or writes there is named here.
const (
	// Root is zkdr's own subtree in each ensemble.
	Root = "/zkdr"
	// ZooKeeper is ZooKeeper's own subtree (quotas, config), never replicated.
	ZooKeeper = "/zookeeper"

	// SiteRecord holds the site's record: name, role, epoch (failover/site).
	SiteRecord = "/zkdr/site"
	// Election holds the candidates of the daemons of one site; the lowest
	// sequence leads (failover/site).
	Election = "/zkdr/election"
	// AntiEntropy holds the standby's last anti-entropy report (failover/daemon).
	AntiEntropy = "/zkdr/anti-entropy"

	// Heartbeat is written by the source on the active ensemble every
	// heartbeat interval; its zxid is the watermark.
	Heartbeat = "/zkdr/heartbeat"
	// SnapshotRequest, on the active ensemble, asks the source for a fresh
	// snapshot.
	SnapshotRequest = "/zkdr/snapshot-request"
	// Stages holds the last stage latency report of the site's source
	// (active) or applier (standby), for zkdr status.
	Stages = "/zkdr/stages"

	// Checkpoint is the applier's position on the standby, written in the
	// same Multi as the changes it covers.
	Checkpoint = "/zkdr/applied"
	// Owner's version is the fencing token of the applier that claimed the
	// standby last: every applier run sets it once at start, and every
	// checkpointed Multi checks it, so the Multis of an applier that another
	// one has since claimed the standby from all fail, whatever checkpoint
	// version they expect.
	Owner = "/zkdr/owner"
	// Guard holds the delete guard's state while it holds a group of deletes.
	Guard = "/zkdr/guard"
	// ReplayRecord, on a replay's target, says what was replayed into it.
	ReplayRecord = "/zkdr/replay"
	// DigestProbe never exists: deleting it at version -2 (no version ever
	// matches) fails and takes a zxid without changing the tree, which moves
	// ZooKeeper to its next logged tree digest (zkconn.TreeDigest).
	DigestProbe = "/zkdr/digest-probe"
)

// AlwaysExcluded returns the subtrees that are never replicated: ZooKeeper's
// own and zkdr's per-site one. The slice is the caller's.
func AlwaysExcluded() []string { return []string{ZooKeeper, Root} }

// IsAlwaysExcluded reports whether p is in a subtree that is never replicated.
func IsAlwaysExcluded(p string) bool {
	return Under(p, ZooKeeper) || Under(p, Root)
}
