// Package failover owns the operations that move the active role between two
// sites: Promote (the active site is gone), Switchover (a planned drill with no
// data loss), Rejoin (a returning old primary becomes the standby) and the
// divergence report rejoin writes. Each takes a config of its own
// (PromoteConfig, SwitchoverConfig, RejoinOptions), which `zkdr` and the site
// daemon (package daemon) build from the site's config file. They write the
// site records of package site, and clients following package client move
// with them.
//
// # Promotion and switchover
//
// A promotion fences the peer's record if the peer is reachable, applies the
// local mirror to its end, and marks the site active at NextEpoch of every
// epoch known here. A switchover fences the active site, waits until the
// standby applied a heartbeat taken after the fence (RPO 0), then swaps the
// roles at the next epoch and compares both trees. Both report their steps
// with timings (PromoteReport, SwitchoverReport).
//
// # Rejoin
//
// Before a returning old primary is overwritten by a snapshot of the new active
// site, FindDivergence lists its nodes that would be overwritten or deleted and
// a DivergenceWriter records them as JSON lines (path, data in base64, stat,
// acl, replaced_by), so no write that never left the old datacenter is lost
// silently.
package failover
