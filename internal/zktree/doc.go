// Package zktree reads a whole ZooKeeper subtree (paths, data, ACLs, modes) with
// many requests in flight and compares two such trees. It shares no code with the
// replicator on purpose: end-to-end tests and the demo use it as an independent
// witness that the standby equals the primary.
package zktree
