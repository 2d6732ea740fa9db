// Package bench runs zkdr's benchmark scenarios against real servers and
// measures the peers an operator would otherwise use in the same run.
//
// Each scenario starts what the end-to-end tests start (a ZooKeeper process per
// site, an embedded NATS JetStream server per site linked by a leafnode) and runs
// the zkdr daemons in this process, so a CPU profile of them can be taken with
// runtime/pprof. Load, lag probes, tree comparison and the baseline copiers come
// from the zkbench tool and the Curator-based mirror in the shared peers
// directory; they are built and run as separate programs, never imported, so
// the measuring side shares no code with what it measures.
//
// Absolute figures depend on the machine and on what else runs on it; the
// report gives every figure next to the peers' figures from the same run and
// their ratio, which is what the targets are written against.
package bench
