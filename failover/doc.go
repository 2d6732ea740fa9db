// Package failover owns site records, epochs, promotion, switchover, rejoin and
// the site daemon; site records live in package site, and
// the client HostProvider that moves ZooKeeper clients to the active site in
// package client.
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
