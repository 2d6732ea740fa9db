package source

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zkwire"
)

// maxNodesPerRead bounds the nodes one multiRead asks for. A node's data is
// at most 1 MB, so a reply stays well under zkwire's frame limit.
const maxNodesPerRead = 32

type jobKind uint8

const (
	jobReads     jobKind = iota // reads after notifications, or a walk step
	jobWalkBegin                // a walk starts here in the publish order
	jobHeartbeat                // a heartbeat write the server acknowledged
	jobHold                     // the session reconnected: changes may be missing until a catch-up walk ends
	jobACL                      // an ACL re-read by the periodic recheck
)

// job is one entry of the publish order.
type job struct {
	kind  jobKind
	issue uint64 // jobReads: issue number of its multiRead
	walk  bool   // jobReads: a walk step (data and children of each node)
	items []readItem
	read  *zkwire.Call[[]zkwire.ReadResult]
	begin result        // jobWalkBegin
	hb    heartbeatMark // jobHeartbeat
	acl   nodeRead      // jobACL
	// arrived is when the first reply to read arrived (unix nanoseconds), set
	// by the stamp loop; 0 until then.
	arrived atomic.Int64
}

// readItem is one node of a jobReads.
type readItem struct {
	path    string
	op      int  // index of its getData in the multiRead (getChildren follows in a walk)
	wantACL bool // read its ACL with it (a node the index may not know)
	acl     *zkwire.Call[zkwire.ACLs]
}

// dispatchLoop issues every read of the watching session: notifications in
// arrival order, walk steps when a walk runs. Each round dispatches every
// notification queued, then one walk step, so a walk holds back the changes,
// and the heartbeats, that come meanwhile by one step at most.
func (w *watcher) dispatchLoop(ctx context.Context) error {
	first := true
	for {
		if ctx.Err() != nil {
			return nil
		}
		busy := false
		if items := w.events.popAll(); len(items) > 0 {
			if err := w.dispatchEvents(ctx, items, &first); err != nil {
				return ignoreDone(ctx, err)
			}
			busy = true
		}
		if err := w.startWalk(ctx); err != nil {
			return ignoreDone(ctx, err)
		}
		// One walk step per round: notifications first, but a steady stream
		// of them never starves a snapshot.
		issued, err := w.issueWalkStep(ctx)
		if err != nil {
			return ignoreDone(ctx, err)
		}
		busy = busy || issued
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.events.wake:
		case <-w.s.walkWake:
		case <-w.walk.wake:
		}
	}
}

// dispatchEvents turns a run of queued events into jobs: consecutive
// notifications share multiReads of up to maxNodesPerRead nodes.
func (w *watcher) dispatchEvents(ctx context.Context, items []queued, first *bool) error {
	s := w.s
	var batch []readItem
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		j := &job{kind: jobReads, items: batch}
		batch = nil
		return w.issue(ctx, j)
	}
	for _, it := range items {
		if it.hb != nil {
			if err := flush(); err != nil {
				return err
			}
			if err := w.push(ctx, &job{kind: jobHeartbeat, hb: *it.hb}); err != nil {
				return err
			}
			continue
		}
		ev := it.ev
		switch ev.Kind {
		case zkwire.EventNotification:
			p := ev.Path
			if p == zkpath.SnapshotRequest {
				if ev.Type == zk.EventNodeCreated || ev.Type == zk.EventNodeDataChanged {
					s.takeSnapshot("request")
				}
				continue
			}
			if !s.cfg.Scope.Contains(p) {
				continue
			}
			e, known := s.idx.get(p)
			switch ev.Type {
			case zk.EventNodeDataChanged:
				if known && e.skipped {
					continue // a skipped ephemeral's data
				}
			case zk.EventNodeCreated, zk.EventNodeDeleted:
			default:
				continue
			}
			batch = append(batch, readItem{path: p, wantACL: ev.Type == zk.EventNodeCreated || !known})
			if len(batch) == maxNodesPerRead {
				if err := flush(); err != nil {
					return err
				}
			}
		case zkwire.EventConnected:
			if *first {
				*first = false
				continue
			}
			if err := flush(); err != nil {
				return err
			}
			if err := w.reconnected(ctx, ev); err != nil {
				return err
			}
		case zkwire.EventExpired:
			s.expiries.Add(1)
			w.log.Warn("zookeeper session expired: watches are lost, walking the tree again once a new session is up")
		case zkwire.EventDisconnected:
			w.log.Debug("zookeeper connection lost", "zk-server", ev.Server)
		}
	}
	return flush()
}

// reconnected follows a new connection. ZooKeeper does not replay what a
// persistent watch missed while the session had no connection (the server
// re-adds the watch from setWatches2 and ignores its zxid for persistent
// watches), nor anything of an expired session's watches. So heartbeats are
// held from here until a walk has compared the whole tree with the index.
func (w *watcher) reconnected(ctx context.Context, ev zkwire.Event) error {
	if ev.NewSession {
		for _, ws := range w.watches {
			if err := w.retryWatch(ctx, ws); err != nil {
				return err
			}
		}
	}
	w.log.Info("zookeeper session reconnected: catching up with a walk", "zk-server", ev.Server, "new-session", ev.NewSession)
	if err := w.push(ctx, &job{kind: jobHold}); err != nil {
		return err
	}
	w.s.requestWalk(walkRequest{rewatch: true})
	return nil
}

// issue numbers j and queues its multiRead (and, after it on the same
// session, the ACL reads it wants), then hands it to the stamp loop and the
// publish loop.
func (w *watcher) issue(ctx context.Context, j *job) error {
	w.send(j)
	select {
	case w.stamps <- stamp{j: j, read: j.read}:
	case <-ctx.Done():
		return ctx.Err()
	}
	return w.push(ctx, j)
}

// stamp is a job's first multiRead, for the stamp loop.
type stamp struct {
	j    *job
	read *zkwire.Call[[]zkwire.ReadResult]
}

// stampLoop notes when each read's reply arrives, so commit → seen ends
// there and the time a reply then waits for its turn in the publish order
// (behind a journal that pushes back, say) counts in read → appended. The
// session answers in issue order, which is the order it waits in.
func (w *watcher) stampLoop(ctx context.Context) error {
	for {
		var st stamp
		select {
		case <-ctx.Done():
			return nil
		case st = <-w.stamps:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-st.read.Done():
		}
		st.j.arrived.Store(time.Now().UnixNano())
	}
}

// send queues j's requests under a fresh issue number. A walk step reads ACLs
// on the bulk sessions; notification reads on the watching session, after
// the data, so an ACL read is never older than the data read beside it.
func (w *watcher) send(j *job) {
	ops := make([]zkwire.ReadOp, 0, 2*len(j.items))
	for i := range j.items {
		it := &j.items[i]
		it.op = len(ops)
		ops = append(ops, zkwire.ReadOp{Path: it.path})
		if j.walk {
			ops = append(ops, zkwire.ReadOp{Path: it.path, Children: true})
		}
	}
	w.issueMu.Lock()
	w.issued++
	j.issue = w.issued
	j.read = w.conn.MultiRead(ops)
	if !j.walk || len(w.bulk) == 0 {
		for i := range j.items {
			if it := &j.items[i]; it.wantACL {
				it.acl = w.conn.GetACL(it.path)
			}
		}
	}
	w.issueMu.Unlock()
	if j.walk && len(w.bulk) > 0 {
		for i := range j.items {
			if it := &j.items[i]; it.wantACL {
				it.acl = w.bulk[(int(j.issue)+i)%len(w.bulk)].GetACL(it.path)
			}
		}
	}
}

func (w *watcher) push(ctx context.Context, j *job) error {
	select {
	case w.jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
