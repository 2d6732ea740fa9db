// Package failover owns site records, epochs, promotion, switchover, rejoin and
// the client HostProvider that moves ZooKeeper clients to the active site.
package failover
