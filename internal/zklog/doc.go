// Package zklog hands go-zookeeper's log lines to an hclog.Logger, the one
// adapter every zkdr package that dials ZooKeeper with go-zookeeper uses.
package zklog
