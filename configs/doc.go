// Package configs is zkdr's site config: the HCL schema, the loader, defaults
// and validation, and the example configs (dev.hcl, east.hcl, west.hcl).
//
// One file configures one site's daemon; both sites of a pair use the same
// schema:
//
//	site         = "east"
//	initial_role = "active"                 # only before the site record exists
//	zookeeper   { servers, session_timeout, auth, chroot }
//	nats        { url, domain, creds, user, password, token, tls { ca_file, cert_file, key_file } }
//	peer "west" { zookeeper { ... }  nats { domain, url, ... } }   # exactly one
//	journal     { replicas, max_age, max_bytes, max_msgs, duplicate_window, sync_always, max_batch_bytes, linger }
//	replication { include, exclude, ephemeral, mapping { from, to } }
//	source      { heartbeat_interval, acl_recheck_interval, snapshot_interval, snapshot_every_events, watch }
//	applier     { max_batch_ops, max_batch_bytes, delete_guard_share, delete_guard_min_nodes }
//	failover    { max_lag_for_switchover, active_connect_file, hook "name" { command, timeout } }
//	ha          { election, node_id }
//	metrics     { listen }
//	log         { level, format }
//
// docs/configuration.md is the field reference.
//
// Durations are strings for time.ParseDuration ("10s"); byte sizes are whole
// numbers or strings with a unit in powers of 1024 ("900KB", "50GB").
// Expressions may call env("NAME"[, "fallback"]) and file("path") (relative to
// the config file), so credentials stay out of the file.
//
// Every error a user can cause is an *Error naming file, line, column and the
// dotted field ("east.hcl:7:21: zookeeper.session_timeout: invalid duration
// ..."); Load, Parse and Validate return all of them at once as Errors.
// Credentials are Secret values, which print and marshal as "[redacted]", so a
// Config can be logged whole; error messages never quote them.
package configs
