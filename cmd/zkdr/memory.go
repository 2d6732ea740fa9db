package main

import (
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
)

// daemonGCPercent is the collector's target for `zkdr run` when GOGC is not
// set. The daemon's heap is mostly the source's index of the tree, which
// grows while a walk reads the tree; Go's default of 100 lets the heap reach
// twice what is live before collecting. At 50 the peak of a 1M-znode seed is
// about a quarter lower (docs/benchmarks.md) for a little more collector CPU,
// and the seed was no slower.
const daemonGCPercent = 50

// tuneGC sets daemonGCPercent unless the operator chose with GOGC.
func tuneGC(log hclog.Logger) {
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Debug("collector target from the environment", "gogc", v)
		return
	}
	debug.SetGCPercent(daemonGCPercent)
}
