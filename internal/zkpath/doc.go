// Package zkpath is the vocabulary of ZooKeeper paths that the source, the
// applier, failover and the config share: the replicated Scope, the Mapper
// from source paths to standby paths and back, the few path helpers they all
// need, and the layout of zkdr's own /zkdr subtree (layout.go), which is
// defined there and nowhere else.
//
// Paths are ZooKeeper's: absolute, "/"-separated, with no trailing slash
// except the root "/". /zookeeper and /zkdr are never replicated.
package zkpath
