package source

import (
	"context"
	"sync"
	"time"
)

// maxWalkSteps bounds the walk's multiReads in flight; with maxNodesPerRead
// nodes each, about a thousand nodes are being read at once.
const maxWalkSteps = 32

// walkState is the walk in progress on the watching session. The dispatch
// loop starts a walk and issues its steps; the publish loop applies them,
// queues the children they list, and ends the walk when nothing is left.
type walkState struct {
	mu       sync.Mutex
	active   bool
	id       uint64 // snapshot id, 0 for a catch-up walk
	start    time.Time
	frontier []string // paths to read, last in first out
	pending  int      // paths queued or in flight, not yet applied
	inflight int      // steps issued, not yet applied
	count    uint64   // nodes found
	wake     chan struct{}
}

func (ws *walkState) poke() {
	select {
	case ws.wake <- struct{}{}:
	default:
	}
}

// startWalk starts the requested walk, if one is asked for and none runs:
// its begin goes into the publish order here, its roots into the frontier.
func (w *watcher) startWalk(ctx context.Context) error {
	s := w.s
	w.walk.mu.Lock()
	if w.walk.active {
		w.walk.mu.Unlock()
		return nil
	}
	s.walkMu.Lock()
	req := s.walkNext
	s.walkNext = walkRequest{}
	s.walkMu.Unlock()
	if !req.snapshot && !req.rewatch {
		w.walk.mu.Unlock()
		return nil
	}
	start := time.Now()
	var id uint64
	if req.snapshot {
		id = uint64(start.UnixNano())
		s.snapBase.Store(s.changes.Load())
	}
	w.walk.active, w.walk.id, w.walk.start = true, id, start
	w.walk.frontier = append(w.walk.frontier[:0], s.roots...)
	w.walk.pending, w.walk.inflight, w.walk.count = len(s.roots), 0, 0
	w.walk.mu.Unlock()
	s.walkCount.Add(1)
	s.walkNodes.Store(0)
	s.walkActive.Store(true)
	s.log.Info("walk started", "snapshot", req.snapshot, "catch-up", req.rewatch, "roots", s.roots)
	return w.push(ctx, &job{kind: jobWalkBegin, begin: result{kind: resWalkBegin, snapshot: id, rewatch: req.rewatch, time: start.UnixNano()}})
}

// issueWalkStep issues the walk's next multiRead when there is room.
func (w *watcher) issueWalkStep(ctx context.Context) (bool, error) {
	w.walk.mu.Lock()
	if !w.walk.active || len(w.walk.frontier) == 0 || w.walk.inflight >= maxWalkSteps {
		w.walk.mu.Unlock()
		return false, nil
	}
	n := min(len(w.walk.frontier), maxNodesPerRead)
	paths := w.walk.frontier[len(w.walk.frontier)-n:]
	items := make([]readItem, n)
	for i, p := range paths {
		items[i].path = p
	}
	w.walk.frontier = w.walk.frontier[:len(w.walk.frontier)-n]
	w.walk.inflight++
	w.walk.mu.Unlock()
	for i := range items {
		// Known nodes keep the index's ACL unless their aversion moved.
		_, known := w.s.idx.get(items[i].path)
		items[i].wantACL = !known
	}
	return true, w.issue(ctx, &job{kind: jobReads, walk: true, items: items})
}

// walkApplied records an applied step: its nodes are done, the children it
// listed are queued. It reports the walk's end when nothing is left.
func (w *watcher) walkApplied(done int, found uint64, kids []string) (end bool, id, count uint64, start time.Time) {
	w.walk.mu.Lock()
	defer w.walk.mu.Unlock()
	w.walk.inflight--
	w.walk.pending += len(kids) - done
	w.walk.count += found
	w.walk.frontier = append(w.walk.frontier, kids...)
	if w.walk.pending > 0 {
		return false, 0, 0, time.Time{}
	}
	w.walk.active = false
	w.walk.frontier = nil
	return true, w.walk.id, w.walk.count, w.walk.start
}
