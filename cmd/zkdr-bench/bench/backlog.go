package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/replicator/applier"
)

// backlog stops the standby's daemon, builds a backlog of update events in the
// journal by writing to the primary, starts the standby's daemon again and
// times the apply from its checkpoint; then measures the standby's own raw
// Multi ceiling on the same nodes, the figure the apply rate is held against.
func (r *Runner) backlog(ctx context.Context, p *zkdrPair) (*BacklogResult, error) {
	// Start from a standby in step, so the apply is the backlog and nothing else.
	if err := r.waitCaughtUp(ctx, p); err != nil {
		return nil, err
	}
	if err := p.stop("west"); err != nil {
		return nil, fmt.Errorf("stop the standby's daemon: %w", err)
	}
	r.log.Info("building the backlog", "events", r.cfg.Backlog, "rate", r.cfg.BacklogRate)
	// The source reads a node after its change notification, so sets of one
	// node close together become one event: write until the journal holds the
	// asked-for number of events, not sets.
	var published0 uint64
	if src := p.status("east").Source; src != nil {
		published0 = src.EventsPublished
	}
	var hb int64
	events, sets := 0, 0
	for events < r.cfg.Backlog {
		perSet := 1.0 // events per set, as seen so far
		if sets > 0 && events > 0 {
			perSet = float64(events) / float64(sets)
		}
		secs := float64(r.cfg.Backlog-events) / perSet / float64(r.cfg.BacklogRate)
		dur := max(time.Duration(secs*float64(time.Second)), time.Second)
		out, err := r.zb.run(ctx, "churn", "-zk", r.eastAddr(), "-root", r.cfg.Root, "-n", strconv.Itoa(r.cfg.Nodes),
			"-fanout", strconv.Itoa(r.cfg.Fanout), "-size", strconv.Itoa(r.cfg.DataSize),
			"-rate", strconv.Itoa(r.cfg.BacklogRate), "-dur", dur.String())
		if err != nil {
			return nil, err
		}
		c, err := parseChurn(out)
		if err != nil {
			return nil, err
		}
		if c.Sets == 0 {
			return nil, fmt.Errorf("churn wrote nothing: %s", tail(out, 300))
		}
		sets += c.Sets
		if hb, err = r.waitPublished(ctx, p); err != nil {
			return nil, err
		}
		if src := p.status("east").Source; src != nil {
			events = int(src.EventsPublished - published0)
		}
		r.log.Info("backlog so far", "sets", sets, "events", events)
	}
	// The heartbeat is flushed right after it is emitted; give the flush a
	// moment, then wait for the standby's mirror to hold the whole stream, so
	// what is timed is the apply and not the mirror.
	time.Sleep(time.Second)
	last, err := p.lastSeq(ctx, "east")
	if err != nil {
		return nil, err
	}
	err = pollUntil(ctx, r.cfg.Timeout, 100*time.Millisecond, func() bool {
		seq, err := p.lastSeq(ctx, "west")
		return err == nil && seq >= last
	})
	if err != nil {
		return nil, fmt.Errorf("wait for the standby's mirror: %w", err)
	}
	before, err := p.checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	r.log.Info("backlog ready", "sets", sets, "events", events, "journal-from", before.Seq, "journal-to", last)

	stopProfile := profile(r.cfg.CPUProfileDir, "backlog", r.log)
	meter := newCPUMeter(map[string]int{"bench": os.Getpid(), "zk-standby": p.west.PID(0)})
	start := time.Now()
	if err := p.start("west"); err != nil {
		stopProfile()
		return nil, err
	}
	var res BacklogResult
	var firstApplied time.Time
	err = pollUntil(ctx, r.cfg.Timeout, 20*time.Millisecond, func() bool {
		ap := p.status("west").Applier
		if ap != nil && ap.EventsApplied > 0 && firstApplied.IsZero() {
			firstApplied = time.Now()
		}
		if ap == nil || ap.WatermarkZxid < hb {
			return p.failed() != nil
		}
		res.Took, res.Events, res.Batches, res.Start = time.Since(start), ap.EventsApplied, ap.Batches, ap.Start
		return true
	})
	stopProfile()
	if err == nil {
		err = p.failed()
	}
	if err != nil {
		return nil, fmt.Errorf("wait for the standby to apply the backlog: %w", err)
	}
	res.CPU = meter.shares()
	res.Load = loadAverage()
	res.Messages = last - before.Seq
	if res.Messages > 0 {
		res.EventsPerMessage = float64(res.Events) / float64(res.Messages)
	}
	res.Rate = float64(res.Events) / res.Took.Seconds()
	res.Startup = firstApplied.Sub(start)
	if apply := res.Took - res.Startup; apply > 0 {
		res.ApplyRate = float64(res.Events) / apply.Seconds()
	}
	r.log.Info("backlog applied", "events", res.Events, "took", res.Took, "rate", res.Rate, "startup", res.Startup, "apply-rate", res.ApplyRate)

	if err := p.stop("west"); err != nil {
		return nil, fmt.Errorf("stop the standby's daemon: %w", err)
	}
	res.CeilingOps = int(res.Events)
	res.Ceiling, err = multiCeiling(ctx, p.westConn, r.cfg, res.CeilingOps, ceilingPerMulti, ceilingInFlight)
	if err != nil {
		return nil, fmt.Errorf("standby ceiling: %w", err)
	}
	// The same raw writes in the shape the applier sends them: its largest
	// Multi, as many in flight as it keeps. Beside the ceiling above it tells
	// the shape's cost from the applier's own.
	ac := applier.DefaultConfig()
	res.ShapePerMulti, res.ShapeInFlight = p.cfg["west"].Applier.MaxBatchOps-1, ac.MaxInFlight
	res.ShapeCeiling, err = multiCeiling(ctx, p.westConn, r.cfg, res.CeilingOps, res.ShapePerMulti, res.ShapeInFlight)
	if err != nil {
		return nil, fmt.Errorf("standby ceiling in the applier's shape: %w", err)
	}
	r.log.Info("standby ceiling", "setdata-per-s", res.Ceiling, "applier-shape-setdata-per-s", res.ShapeCeiling,
		"shape", fmt.Sprintf("%dx%d", res.ShapePerMulti, res.ShapeInFlight))
	return &res, nil
}

// waitPublished writes a mark on the primary and waits until the source has
// published a heartbeat past it: then every change before the mark is in the
// journal (the watermark guarantee). It returns the heartbeat's zxid.
func (r *Runner) waitPublished(ctx context.Context, p *zkdrPair) (int64, error) {
	st, err := p.eastConn.Set(leafPath(r.cfg.Root, 0, r.cfg.Fanout), bytes.Repeat([]byte("z"), r.cfg.DataSize), -1)
	if err != nil {
		return 0, fmt.Errorf("mark the end of the backlog: %w", err)
	}
	var hb int64
	err = pollUntil(ctx, r.cfg.Timeout, 50*time.Millisecond, func() bool {
		if src := p.status("east").Source; src != nil && src.LastHeartbeatZxid > st.Mzxid {
			hb = src.LastHeartbeatZxid
		}
		return hb != 0 || p.failed() != nil
	})
	if err == nil {
		err = p.failed()
	}
	if err != nil {
		return 0, fmt.Errorf("wait for the source to publish the backlog: %w", err)
	}
	return hb, nil
}

// waitCaughtUp waits until the standby has applied all of the journal the
// primary's NATS holds now.
func (r *Runner) waitCaughtUp(ctx context.Context, p *zkdrPair) error {
	last, err := p.lastSeq(ctx, "east")
	if err != nil {
		return err
	}
	err = pollUntil(ctx, r.cfg.Timeout, 100*time.Millisecond, func() bool {
		ap := p.status("west").Applier
		return (ap != nil && ap.AppliedSeq >= last) || p.failed() != nil
	})
	if err == nil {
		err = p.failed()
	}
	if err != nil {
		return fmt.Errorf("wait for the standby to catch up: %w", err)
	}
	return nil
}

// The standby's raw ceiling is measured as the applier's Go benchmark does:
// Multi of 100 setData, 64 in flight, on one connection.
const ceilingPerMulti, ceilingInFlight = 100, 64

// multiCeiling is the standby's raw write ceiling: ops setData over the same
// nodes and data size as the backlog, perMulti to a Multi, inFlight at once,
// on one connection.
func multiCeiling(ctx context.Context, conn *zk.Conn, cfg Config, ops, perMulti, inFlight int) (float64, error) {
	data := bytes.Repeat([]byte("w"), cfg.DataSize)
	multis := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range multis {
				reqs := make([]any, perMulti)
				for k := range reqs {
					i := ((m*perMulti + k) * 7919) % cfg.Nodes
					reqs[k] = &zk.SetDataRequest{Path: leafPath(cfg.Root, i, cfg.Fanout), Data: data, Version: -1}
				}
				if _, err := conn.Multi(reqs...); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	n := (ops + perMulti - 1) / perMulti
feed:
	for m := range n {
		select {
		case multis <- m:
		case <-ctx.Done():
			break feed
		}
	}
	close(multis)
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(n*perMulti) / took.Seconds(), nil
}

// leafPath is zkbench's name for leaf i of a tree it loaded.
func leafPath(root string, i, fanout int) string {
	return fmt.Sprintf("%s/p%05d/n%07d", root, i/fanout, i)
}
