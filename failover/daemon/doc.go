// Package daemon is the site daemon that `zkdr run` starts, one per site (or
// several, one leading, with ha.election): Daemon follows the site record in
// its own ensemble (package site) and the peer's (through a client.Monitor),
// and runs the replicator's source while the site is active, its applier while
// it is standby, a rejoin when a promotion happened without it, and nothing
// while it is fenced, switching without a restart. A runner that stopped for
// good (a replicator.StopError that says so) is not started again. Beside the
// runners it serves /metrics and /healthz (metrics.go), runs role-change and
// delete-guard hooks (hooks*.go) and, on a standby, the anti-entropy
// comparison with the active site (antientropy*.go).
//
// It is the one package besides cmd/zkdr that reads configs.Config: it turns
// it into the configs of the source, the applier and the failover operations
// (PromoteConfig, SwitchoverConfig).
//
// # Hooks
//
// Clients that do not follow the active site with package client learn about
// role changes from Hooks: commands run with ZKDR_SITE, ZKDR_ROLE, ZKDR_EPOCH
// and ZKDR_CONNECT in their environment, and an optional file rewritten
// atomically with the active connect string.
package daemon
