package workload

import (
	"maps"
	"sync"
)

// Stats counts what the workload did: Run's operations and the named ones.
type Stats struct {
	Ops    int64
	ByKind map[Kind]int64
	// Creates, Sets and Deletes count the writes the server accepted (a
	// Multi's operations one by one); Bytes the data they wrote.
	Creates, Sets, Deletes int64
	Bytes                  int64
	// Errors counts operations that failed after their retries (not those cut
	// short by the end of Run's context).
	Errors int64
}

type counters struct {
	mu sync.Mutex
	Stats
	byKind map[Kind]int64
}

func (c *counters) add(op *Op, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Ops++
	c.byKind[op.Kind]++
	c.Creates += int64(op.Creates)
	c.Sets += int64(op.Sets)
	c.Deletes += int64(op.Deletes)
	c.Bytes += int64(op.Bytes)
	if failed {
		c.Errors++
	}
}

// Stats returns the counts so far.
func (w *Workload) Stats() Stats {
	w.stats.mu.Lock()
	defer w.stats.mu.Unlock()
	s := w.stats.Stats
	s.ByKind = maps.Clone(w.stats.byKind)
	return s
}
