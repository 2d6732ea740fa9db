package source

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zkwire"
)

// Watch modes (Config.Watch).
const (
	// WatchAuto uses a persistent recursive watch when the ensemble accepts one
	// and falls back to one-shot watches (ZooKeeper before 3.6) when it does not.
	WatchAuto = "auto"
	// WatchRecursive requires a persistent recursive watch: the source stops
	// with ErrNoRecursiveWatch when the ensemble refuses it.
	WatchRecursive = "recursive"
	// WatchOneShot sets a data and a child watch on every node (the only kind
	// ZooKeeper 3.5 and older have).
	WatchOneShot = "one-shot"
)

// watcher is the source's watching session when it holds a persistent
// recursive watch on each root (see doc.go, "Recursive watch"). One goroutine
// (dispatch) issues every read on the session, in the order notifications and
// walk steps come; another (publish) applies the replies in that same order.
type watcher struct {
	s    *Source
	log  hclog.Logger
	conn *zkwire.Conn
	bulk []*zkwire.Conn // sessions for a walk's ACL reads; the watching session when empty

	events eventQueue
	jobs   chan *job  // issued jobs, in issue order; the publish loop reads them
	stamps chan stamp // issued reads, in issue order; the stamp loop reads them

	// issueMu makes "take the next issue number, queue the request" one step,
	// so issue numbers follow the order requests reach the socket.
	issueMu sync.Mutex
	issued  uint64

	walk walkState

	// watches are the paths the session holds a watch on (recursive or not);
	// re-added after a session expiry.
	watches []watchSpec
}

type watchSpec struct {
	path      string
	recursive bool
}

// eventQueue takes events from zkwire's receive goroutine, which must never
// block, and from the heartbeat loop, and hands them to dispatch in arrival
// order.
type eventQueue struct {
	mu    sync.Mutex
	items []queued
	wake  chan struct{}
}

// queued is a session event, or a heartbeat write acknowledged by the server.
type queued struct {
	ev zkwire.Event
	hb *heartbeatMark
}

func (q *eventQueue) push(it queued) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) popAll() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

func (s *Source) newWatcher() *watcher {
	return &watcher{
		s:      s,
		log:    s.log,
		events: eventQueue{wake: make(chan struct{}, 1)},
		jobs:   make(chan *job, maxJobsInFlight),
		stamps: make(chan stamp, maxJobsInFlight),
		walk:   walkState{wake: make(chan struct{}, 1)},
	}
}

// maxJobsInFlight bounds the read requests (each a multiRead of up to
// maxOpsPerJob nodes, or one heartbeat) issued and not yet applied.
const maxJobsInFlight = 256

// run runs the source on a persistent recursive watch. It returns an error
// wrapping ErrNoRecursiveWatch, having published nothing, when the ensemble
// does not accept addWatch.
func (w *watcher) run(ctx context.Context) error {
	s := w.s
	cfg := zkwire.DefaultConfig()
	cfg.Servers, cfg.SessionTimeout, cfg.Auth = s.cfg.Servers, s.cfg.SessionTimeout, s.cfg.Auth
	cfg.Logger = s.log.Named("zk")
	cfg.OnEvent = func(ev zkwire.Event) { w.events.push(queued{ev: ev}) }
	conn, err := zkwire.Dial(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrConnect, err)
	}
	w.conn = conn
	defer conn.Close()
	w.watches = w.watchSpecs()
	if err := w.addWatches(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for range s.cfg.BulkSessions {
		bcfg := cfg
		bcfg.OnEvent = nil
		bcfg.Logger = s.log.Named("zk-bulk")
		b, err := zkwire.Dial(ctx, bcfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: bulk session: %w", ErrConnect, err)
		}
		defer b.Close()
		w.bulk = append(w.bulk, b)
	}
	s.setWatchKind(WatchRecursive)
	s.log.Info("watching on persistent recursive watches", "roots", s.roots, "zk-server", conn.Server())

	g, gctx := errgroup.WithContext(ctx)
	s.requestWalk(walkRequest{snapshot: true}) // the bootstrap
	g.Go(func() error { return w.dispatchLoop(gctx) })
	g.Go(func() error { return w.publishLoop(gctx) })
	g.Go(func() error { return w.stampLoop(gctx) })
	g.Go(func() error { return w.heartbeatLoop(gctx) })
	g.Go(func() error { return w.aclRecheckLoop(gctx) })
	g.Go(func() error { return s.snapshotTriggers(gctx, false) })
	g.Go(func() error {
		if err := s.waitBootstrapped(gctx); err != nil {
			return nil
		}
		return s.stageReporter(w.writeStages).Run(gctx)
	})
	err = g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, zk.ErrClosing)) {
		return nil
	}
	return err
}

// watchSpecs lists the watches the session needs: a recursive one per root,
// and one on the snapshot request node when no root covers it.
func (w *watcher) watchSpecs() []watchSpec {
	var out []watchSpec
	for _, r := range w.s.roots {
		out = append(out, watchSpec{path: r, recursive: true})
	}
	covered := false
	for _, r := range w.s.roots {
		if zkpath.Under(zkpath.SnapshotRequest, r) {
			covered = true
		}
	}
	if !covered {
		out = append(out, watchSpec{path: zkpath.SnapshotRequest})
	}
	return out
}

// addWatches adds every watch of w.watches and waits for the answers. A
// server that does not know addWatch (ZooKeeper before 3.6) answers
// UNIMPLEMENTED; one whose watch manager cannot hold persistent watches
// refuses them too: both are ErrNoRecursiveWatch.
func (w *watcher) addWatches(ctx context.Context) error {
	calls := make([]*zkwire.Call[struct{}], len(w.watches))
	for i, ws := range w.watches {
		calls[i] = w.conn.AddWatch(ws.path, ws.recursive)
	}
	for i, c := range calls {
		_, err := c.Wait(ctx)
		if err == nil {
			continue
		}
		if transient(err) {
			// Lost with the connection: add it again on the next one.
			return w.retryWatch(ctx, w.watches[i])
		}
		return fmt.Errorf("%w: server %s refused addWatch %s: %w (needs ZooKeeper 3.6 or newer, without WatchManagerOptimized)",
			ErrNoRecursiveWatch, w.conn.Server(), w.watches[i].path, err)
	}
	return nil
}

// writeStages stores a stage report on a bulk session (the watching session
// when there is none), creating the node when needed; /zkdr exists once the
// heartbeat has been set up.
func (w *watcher) writeStages(ctx context.Context, data []byte) error {
	conn := w.conn
	if len(w.bulk) > 0 {
		conn = w.bulk[0]
	}
	_, err := conn.SetData(zkpath.Stages, data, -1).Wait(ctx)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = conn.Create(zkpath.Stages, data, 0, zk.WorldACL(zk.PermAll)).Wait(ctx)
	}
	return err
}

func (w *watcher) retryWatch(ctx context.Context, ws watchSpec) error {
	return w.s.retry(ctx, "add-watch", ws.path, func() error {
		_, err := w.conn.AddWatch(ws.path, ws.recursive).Wait(ctx)
		return err
	})
}
