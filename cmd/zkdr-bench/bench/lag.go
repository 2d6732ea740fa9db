package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// underLoad runs zkbench churn on the primary and zkbench probe from the
// primary to dst at the same time, and returns what each saw.
func (r *Runner) underLoad(ctx context.Context, dst string, rate int, d time.Duration) (ChurnResult, LagResult, error) {
	var churnOut, probeOut string
	dur := d.String()
	n := strconv.Itoa(r.cfg.Nodes)
	if err := r.resetProbes(ctx, dst); err != nil {
		return ChurnResult{}, LagResult{}, err
	}
	r.log.Info("load", "rate", rate, "duration", dur)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		churnOut, err = r.zb.run(gctx, "churn", "-zk", r.eastAddr(), "-root", r.cfg.Root, "-n", n,
			"-fanout", strconv.Itoa(r.cfg.Fanout), "-size", strconv.Itoa(r.cfg.DataSize),
			"-rate", strconv.Itoa(rate), "-dur", dur)
		return err
	})
	g.Go(func() error {
		var err error
		probeOut, err = r.zb.run(gctx, "probe", "-src", r.eastAddr(), "-dst", dst, "-root", r.cfg.Root, "-n", n,
			"-fanout", strconv.Itoa(r.cfg.Fanout), "-k", strconv.Itoa(r.cfg.ProbeNodes), "-dur", dur,
			"-every", r.cfg.ProbeEvery.String())
		if err != nil && strings.Contains(probeOut, "no probe arrived") {
			return nil // a figure, not a failure
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return ChurnResult{}, LagResult{}, err
	}
	churn, err := parseChurn(churnOut)
	if err != nil {
		return ChurnResult{}, LagResult{}, err
	}
	lag, err := parseProbe(probeOut)
	if err != nil {
		lag = LagResult{} // no probe arrived
	}
	r.log.Info("load done", "churn-rate", churn.Rate, "p50", lag.P50, "p99", lag.P99, "max", lag.Max, "samples", lag.Samples)
	if churn.Errors > 0 {
		r.problem("churn had %d errors", churn.Errors)
	}
	return churn, lag, nil
}

// zkdrPhase measures zkdr on one fresh pair: the seed, then the steady lag,
// the lag at the ceiling, the burst, then the backlog, in that order, each
// leaving the pair in step.
func (r *Runner) zkdrPhase(ctx context.Context) error {
	west, err := r.freshWest("zkdr")
	if err != nil {
		return err
	}
	defer west.Close()
	p, err := newZkdrPair(ctx, r.dir, r.east, west, r.cfg.SyncAlways, r.cfg.Watch, r.daemonLogger())
	if err == nil && r.cfg.ColdApplier {
		p.cfg["west"].Applier.IndexFile = ""
	}
	if err != nil {
		return err
	}
	defer p.close()

	r.log.Info("seeding with zkdr")
	applied, equal, err := r.zkdrSeed(ctx, p)
	if err != nil {
		return fmt.Errorf("zkdr seed: %w", err)
	}
	r.log.Info("zkdr seeded", "applied", applied, "equal", equal)
	if r.rep.Seed != nil {
		r.rep.Seed.ZkdrApplied, r.rep.Seed.Zkdr = applied, equal
	}
	if r.cfg.wants(ScenarioLag) {
		stop := profile(r.cfg.CPUProfileDir, "lag", r.log)
		before := p.stages()
		churn, lag, err := r.underLoad(ctx, west.ConnectString(), r.cfg.ChurnRate, r.cfg.ChurnDuration)
		stop()
		if err != nil {
			return fmt.Errorf("zkdr lag: %w", err)
		}
		if err := p.failed(); err != nil {
			return err
		}
		r.rep.Lag.Zkdr, r.rep.Lag.ZkdrChurn = lag, churn
		r.rep.Lag.ZkdrStages = stageFigures(before, p.stages())
	}
	if r.cfg.wants(ScenarioCeiling) && r.rep.Ceiling != nil {
		stop := profile(r.cfg.CPUProfileDir, "ceiling", r.log)
		before := p.stages()
		res, err := r.atCeiling(ctx, west.ConnectString())
		stop()
		if err != nil {
			return fmt.Errorf("zkdr lag at the ceiling: %w", err)
		}
		res.Stages = stageFigures(before, p.stages())
		if err := p.failed(); err != nil {
			return err
		}
		if ok, _, err := r.zb.diff(ctx, r.eastAddr(), west.ConnectString(), r.cfg.Root); err == nil && !ok {
			res.Behind = true
		}
		r.rep.Ceiling.Zkdr = res
	}
	if r.cfg.wants(ScenarioBurst) {
		res, err := r.burst(ctx, p)
		if err != nil {
			return fmt.Errorf("zkdr burst: %w", err)
		}
		r.rep.Burst.Zkdr = res
	}
	if r.cfg.wants(ScenarioBacklog) {
		res, err := r.backlog(ctx, p)
		if err != nil {
			return fmt.Errorf("zkdr backlog: %w", err)
		}
		r.rep.Backlog = res
	}
	if r.cfg.wants(ScenarioSwitchover) || r.cfg.wants(ScenarioPromote) {
		if err := r.failoverDrills(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// failoverDrills runs the switchover drills and then the promotion after the
// active site's loss, under one following client's load.
func (r *Runner) failoverDrills(ctx context.Context, p *zkdrPair) error {
	// The backlog scenario leaves the standby's daemon stopped.
	if p.daemons["west"] == nil {
		if err := p.start("west"); err != nil {
			return err
		}
	}
	if err := r.waitCaughtUp(ctx, p); err != nil {
		return err
	}
	w, err := r.startDrillWriter(ctx, p, r.cfg.DrillRate, r.cfg.DrillPaths)
	if err != nil {
		return err
	}
	defer w.stop()
	if r.cfg.wants(ScenarioSwitchover) {
		stop := profile(r.cfg.CPUProfileDir, "switchover", r.log)
		res, err := r.switchovers(ctx, p, w)
		stop()
		r.rep.Switchover = res
		if err != nil {
			return fmt.Errorf("switchover: %w", err)
		}
	}
	if r.cfg.wants(ScenarioPromote) {
		res, err := r.promoteAfterLoss(ctx, p, w)
		if err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		r.rep.Promote = res
	}
	return nil
}

// probePaths are the leaves zkbench probe writes its timestamps into.
func (r *Runner) probePaths() []string {
	n, k := r.cfg.Nodes, r.cfg.ProbeNodes
	var out []string
	for i := range k {
		out = append(out, leafPath(r.cfg.Root, (i*(n/k)+n/(2*k))%n, r.cfg.Fanout))
	}
	return out
}

// resetProbes overwrites the probe's leaves on the primary with plain data
// and waits until dst shows it. zkbench probe counts the value a leaf holds
// when it starts watching: without this, a timestamp left by an earlier run
// (and copied by a later seed) would count as a lag of minutes.
func (r *Runner) resetProbes(ctx context.Context, dst string) error {
	src, err := dialZK(ctx, r.east.Servers())
	if err != nil {
		return err
	}
	defer src.Close()
	d, err := dialZK(ctx, []string{dst})
	if err != nil {
		return err
	}
	defer d.Close()
	plain := bytes.Repeat([]byte("y"), r.cfg.DataSize)
	paths := r.probePaths()
	for _, p := range paths {
		if _, err := src.Set(p, plain, -1); err != nil {
			return fmt.Errorf("reset probe leaf %s: %w", p, err)
		}
	}
	err = pollUntil(ctx, 2*time.Minute, 200*time.Millisecond, func() bool {
		for _, p := range paths {
			data, _, err := d.Get(p)
			if err != nil || bytes.HasPrefix(data, []byte("zkprobe:")) {
				return false
			}
		}
		return true
	})
	if err != nil {
		r.problem("probe leaves still hold old timestamps on %s: %v", dst, err)
	}
	return nil
}
