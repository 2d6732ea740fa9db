// Package e2e holds zkdr's end-to-end tests. They run real ZooKeeper processes
// (Debian's zookeeper package) and real embedded NATS servers, two sites linked
// by a leafnode, and check DESIGN.md's guarantees from the outside.
package e2e
