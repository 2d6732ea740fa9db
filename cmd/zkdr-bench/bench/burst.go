package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/replicator/applier"
)

// BurstResult is the burst scenario: Children creates under one fresh parent
// on the primary, PerMulti to a transaction, one transaction after the other.
type BurstResult struct {
	Children int          `json:"children"`
	PerMulti int          `json:"per_multi"`
	Zkdr     *BurstMirror `json:"zkdr,omitempty"`
	Curator  *BurstMirror `json:"curator_mirror,omitempty"`
}

// BurstMirror is one mirror's view of the burst.
type BurstMirror struct {
	// Writes is how long the primary took to acknowledge the burst's
	// transactions.
	Writes time.Duration `json:"writes_ns"`
	// ToEqual runs from the burst's first write until the standby's children
	// of the parent were seen equal to the primary's (count and names).
	ToEqual time.Duration `json:"to_equal_ns"`
	// Capped: the standby was not equal when the bench stopped waiting;
	// ToEqual is a lower bound.
	Capped bool `json:"capped,omitempty"`

	// zkdr only. LagPeak is the largest reported lag (now − primary time of
	// the newest heartbeat the standby's daemon has applied), sampled every
	// 100 ms from the first write until the standby was equal and had applied
	// a heartbeat newer than the burst; WatermarkStill the longest stretch of
	// that time over which the applied watermark did not move; ToWatermark
	// from the first write until that newer heartbeat was applied.
	LagPeak        time.Duration `json:"lag_peak_ns,omitempty"`
	LagSamples     int           `json:"lag_samples,omitempty"`
	WatermarkStill time.Duration `json:"watermark_still_ns,omitempty"`
	ToWatermark    time.Duration `json:"to_watermark_ns,omitempty"`
	// LagBefore is the largest lag over the second before the burst.
	LagBefore time.Duration `json:"lag_before_ns,omitempty"`
}

// burstTarget is the burst row's target for the reported lag's peak.
const burstTarget = 5 * time.Second

// curatorBurstCap bounds the wait for curator-mirror to show the burst: it
// can stop applying without saying so (see docs/benchmarks.md), and the bench
// should not wait its whole timeout for that.
const curatorBurstCap = 5 * time.Minute

// burstParent is the fresh parent of zkdr's burst, under the primary's root.
func (r *Runner) burstParent() string { return r.cfg.Root + "/zkdrburst" }

// writeBurst creates r.cfg.BurstChildren children under parent through conn,
// r.cfg.BurstPerMulti to a Multi, and returns their names (sorted), when the
// first write was sent, how long the writes took, and the zxid of the last
// transaction (the parent's pzxid after it).
func (r *Runner) writeBurst(conn *zk.Conn, parent string) (names []string, first time.Time, took time.Duration, last int64, err error) {
	data := bytes.Repeat([]byte("b"), r.cfg.DataSize)
	open := zk.WorldACL(zk.PermAll)
	first = time.Now()
	for n := 0; n < r.cfg.BurstChildren; {
		ops := make([]any, 0, r.cfg.BurstPerMulti)
		for ; n < r.cfg.BurstChildren && len(ops) < r.cfg.BurstPerMulti; n++ {
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/c%07d", parent, n), Data: data, Acl: open})
		}
		if _, err := conn.Multi(ops...); err != nil {
			return nil, first, 0, 0, fmt.Errorf("burst transaction ending at child %d: %w", n, err)
		}
		for _, op := range ops {
			names = append(names, op.(*zk.CreateRequest).Path[len(parent)+1:])
		}
	}
	took = time.Since(first)
	if _, err := conn.Sync(parent); err != nil {
		return nil, first, 0, 0, err
	}
	_, st, err := conn.Exists(parent)
	if err != nil {
		return nil, first, 0, 0, err
	}
	slices.Sort(names)
	return names, first, took, st.Pzxid, nil
}

// childrenEqual reports whether conn's parent has exactly the children names
// (sorted).
func childrenEqual(conn *zk.Conn, parent string, names []string) bool {
	kids, _, err := conn.Children(parent)
	if err != nil || len(kids) != len(names) {
		return false
	}
	slices.Sort(kids)
	return slices.Equal(kids, names)
}

// lagSample is the standby daemon's reported watermark at one moment.
type lagSample struct {
	at   time.Time
	lag  time.Duration
	zxid int64
}

// sampleLag reads the standby daemon's applied watermark every 100 ms until
// the returned func is called, which returns the samples.
func (r *Runner) sampleLag(p *zkdrPair) func() []lagSample {
	stop, done := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var samples []lagSample
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if ap := p.status("west").Applier; ap != nil && !ap.WatermarkTime.IsZero() {
				now := time.Now()
				mu.Lock()
				samples = append(samples, lagSample{at: now, lag: now.Sub(ap.WatermarkTime), zxid: ap.WatermarkZxid})
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() []lagSample {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return samples
	}
}

// burst measures zkdr on the running pair: the reported lag and the applied
// watermark while a burst of creates under one fresh parent goes through, and
// the time until the standby holds all of it. It removes the burst from both
// sites afterwards, so the scenarios after it see the tree they would see
// without it.
func (r *Runner) burst(ctx context.Context, p *zkdrPair) (*BurstMirror, error) {
	if err := r.waitCaughtUp(ctx, p); err != nil {
		return nil, err
	}
	parent := r.burstParent()
	if _, err := p.eastConn.Create(parent, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return nil, fmt.Errorf("create the burst's parent %s: %w", parent, err)
	}
	if err := pollUntil(ctx, r.cfg.Timeout, 50*time.Millisecond, func() bool {
		ok, _, err := p.westConn.Exists(parent)
		return (err == nil && ok) || p.failed() != nil
	}); err != nil {
		return nil, fmt.Errorf("wait for the burst's parent on the standby: %w", err)
	}
	if err := p.failed(); err != nil {
		return nil, err
	}
	stopSampling := r.sampleLag(p)
	// A second of samples before the burst, for the lag it starts from.
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
	r.log.Info("burst", "children", r.cfg.BurstChildren, "per-multi", r.cfg.BurstPerMulti, "parent", parent)
	stopProfile := profile(r.cfg.CPUProfileDir, "burst", r.log)
	names, first, took, last, err := r.writeBurst(p.eastConn, parent)
	if err != nil {
		stopProfile()
		stopSampling()
		return nil, err
	}
	res := &BurstMirror{Writes: took}
	var equalAt, wmAt time.Time
	err = pollUntil(ctx, r.cfg.Timeout, 100*time.Millisecond, func() bool {
		if equalAt.IsZero() && childrenEqual(p.westConn, parent, names) {
			equalAt = time.Now()
		}
		if ap := p.status("west").Applier; wmAt.IsZero() && ap != nil && ap.WatermarkZxid > last {
			wmAt = time.Now()
		}
		return (!equalAt.IsZero() && !wmAt.IsZero()) || p.failed() != nil
	})
	stopProfile()
	samples := stopSampling()
	if err == nil {
		err = p.failed()
	}
	if err != nil {
		return nil, fmt.Errorf("wait for the standby to hold the burst and a newer heartbeat: %w", err)
	}
	res.ToEqual, res.ToWatermark = equalAt.Sub(first), wmAt.Sub(first)
	end := equalAt
	if wmAt.After(end) {
		end = wmAt
	}
	res.LagPeak, res.WatermarkStill, res.LagSamples = lagOver(samples, first, end)
	res.LagBefore, _, _ = lagOver(samples, first.Add(-time.Second), first)
	r.log.Info("burst applied", "writes", took, "to-equal", res.ToEqual, "to-watermark", res.ToWatermark,
		"lag-peak", res.LagPeak, "watermark-still", res.WatermarkStill, "lag-before", res.LagBefore)
	if err := r.removeBurst(ctx, p, parent, names); err != nil {
		return nil, err
	}
	return res, nil
}

// lagOver is the peak lag among the samples taken in [from, to], the longest
// stretch of it over which the watermark did not move, and how many samples
// there were.
func lagOver(samples []lagSample, from, to time.Time) (peak, still time.Duration, n int) {
	var moved time.Time
	var prev int64
	for _, s := range samples {
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		n++
		peak = max(peak, s.lag)
		if n == 1 || s.zxid != prev {
			moved, prev = s.at, s.zxid
		}
		still = max(still, s.at.Sub(moved))
	}
	return peak, still, n
}

// deleteBurst deletes parent's children names and parent itself on the
// primary, PerMulti to a transaction.
func (r *Runner) deleteBurst(conn *zk.Conn, parent string, names []string) error {
	for len(names) > 0 {
		k := min(len(names), r.cfg.BurstPerMulti)
		ops := make([]any, 0, k)
		for _, n := range names[:k] {
			ops = append(ops, &zk.DeleteRequest{Path: parent + "/" + n, Version: -1})
		}
		if _, err := conn.Multi(ops...); err != nil {
			return fmt.Errorf("delete the burst under %s: %w", parent, err)
		}
		names = names[k:]
	}
	if err := conn.Delete(parent, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete %s: %w", parent, err)
	}
	return nil
}

// removeBurst deletes the burst on the primary and waits until the standby
// applied it. Those deletes can be a large share of the standby's nodes, so
// the applier's delete guard may pause on them, as it should: the bench then
// confirms them, as an operator would with `zkdr guard release`.
func (r *Runner) removeBurst(ctx context.Context, p *zkdrPair, parent string, names []string) error {
	if err := r.deleteBurst(p.eastConn, parent, names); err != nil {
		return err
	}
	released := 0
	err := pollUntil(ctx, r.cfg.Timeout, 100*time.Millisecond, func() bool {
		if p.failed() != nil {
			return true
		}
		if g, ok, err := applier.ReadGuard(ctx, p.westConn); err == nil && ok && g.State == applier.GuardPaused {
			if err := applier.ReleaseGuard(ctx, p.westConn); err == nil {
				released++
				r.log.Info("delete guard paused on the burst's removal; released", "deletes", g.Deletes, "replicated", g.Replicated)
			}
			return false
		}
		ok, _, err := p.westConn.Exists(parent)
		return err == nil && !ok
	})
	if err == nil {
		err = p.failed()
	}
	if err != nil {
		return fmt.Errorf("wait for the standby to remove the burst: %w", err)
	}
	return r.waitCaughtUp(ctx, p)
}

// curatorBurst measures curator-mirror under the same burst: on a fresh
// standby, mirroring a fresh parent outside the root (so it starts at once,
// with nothing to seed), from the first write until the standby's children
// of the parent equal the primary's. The burst is deleted from the primary
// afterwards: zkdr's scenarios then see the tree they would see without it.
func (r *Runner) curatorBurst(ctx context.Context) (*BurstMirror, error) {
	west, err := r.freshWest("curator-burst")
	if err != nil {
		return nil, err
	}
	defer west.Close()
	src, err := dialZK(ctx, r.east.Servers())
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := dialZK(ctx, west.Servers())
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	parent := "/zkdrburst-curator"
	if _, err := src.Create(parent, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return nil, fmt.Errorf("create the burst's parent %s: %w", parent, err)
	}
	defer func() {
		if kids, _, err := src.Children(parent); err == nil {
			if err := r.deleteBurst(src, parent, kids); err != nil {
				r.problem("curator-mirror burst: %v", err)
			}
		}
	}()
	m, err := startCurator(r.cfg.PeersDir, r.eastAddr(), west.ConnectString(), parent, filepath.Join(r.dir, "curator-mirror-burst.log"))
	if err != nil {
		return nil, err
	}
	defer m.stop()
	if err := m.waitInitialized(ctx, r.cfg.Timeout); err != nil {
		return nil, err
	}
	if err := pollUntil(ctx, time.Minute, 50*time.Millisecond, func() bool {
		ok, _, err := dst.Exists(parent)
		return err == nil && ok
	}); err != nil {
		return nil, fmt.Errorf("curator-mirror did not create the burst's parent on its standby: %w", err)
	}
	r.log.Info("burst with curator-mirror", "children", r.cfg.BurstChildren, "per-multi", r.cfg.BurstPerMulti, "parent", parent)
	names, first, took, _, err := r.writeBurst(src, parent)
	if err != nil {
		return nil, err
	}
	res := &BurstMirror{Writes: took}
	wait := min(r.cfg.Timeout, curatorBurstCap)
	err = pollUntil(ctx, wait, 100*time.Millisecond, func() bool { return childrenEqual(dst, parent, names) })
	res.ToEqual = time.Since(first)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.Capped = true
		kids, _, _ := dst.Children(parent)
		r.problem("curator-mirror burst: %d of %d children on its standby after %s", len(kids), len(names), wait)
	}
	r.log.Info("curator-mirror burst", "writes", took, "to-equal", res.ToEqual, "capped", res.Capped)
	return res, nil
}

// burstRow is the burst of child creates under one parent.
func (r *Report) burstRow() Row {
	const target = "peak ≤ 5 s"
	b := r.Burst
	if b == nil {
		return Row{Scenario: "burst of child creates under one parent", Zkdr: notMeasured, Target: target}
	}
	row := Row{Scenario: fmt.Sprintf("burst of %s child creates under one parent (Multi of %s)", thousands(b.Children), thousands(b.PerMulti)),
		Target: target}
	if z := b.Zkdr; z != nil {
		row.Zkdr = fmt.Sprintf("lag peak %s (%s before); equal %s after the first write, a newer heartbeat applied after %s; watermark still at most %s (writes took %s)",
			ms(z.LagPeak), ms(z.LagBefore), secs(z.ToEqual), secs(z.ToWatermark), secs(z.WatermarkStill), secs(z.Writes))
		row.Verdict = verdict(z.LagSamples > 0 && z.LagPeak <= burstTarget)
	} else {
		row.Zkdr = "not measured"
	}
	if c := b.Curator; c != nil {
		v := secs(c.ToEqual)
		if c.Capped {
			v = "> " + v + " (stopped)"
		}
		row.Peers = "curator-mirror equal " + v + " after the first write"
		if z := b.Zkdr; z != nil && !c.Capped && c.ToEqual > 0 {
			row.Ratio = fmt.Sprintf("equal %.2f × curator", z.ToEqual.Seconds()/c.ToEqual.Seconds())
		}
	} else if r.Setup.CuratorMirror {
		row.Peers = curatorNone
	}
	return row
}
