package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
)

// underLoad runs zkbench churn on the primary and zkbench probe from the
// primary to dst at the same time, and returns what each saw.
func (r *Runner) underLoad(ctx context.Context, dst string) (ChurnResult, LagResult, error) {
	var churnOut, probeOut string
	dur := r.cfg.ChurnDuration.String()
	n := strconv.Itoa(r.cfg.Nodes)
	r.log.Info("steady load", "rate", r.cfg.ChurnRate, "duration", dur)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		churnOut, err = r.zb.run(gctx, "churn", "-zk", r.eastAddr(), "-root", r.cfg.Root, "-n", n,
			"-fanout", strconv.Itoa(r.cfg.Fanout), "-size", strconv.Itoa(r.cfg.DataSize),
			"-rate", strconv.Itoa(r.cfg.ChurnRate), "-dur", dur)
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
// then the backlog, in that order, each leaving the pair in step.
func (r *Runner) zkdrPhase(ctx context.Context) error {
	west, err := r.freshWest("zkdr")
	if err != nil {
		return err
	}
	defer west.Close()
	p, err := newZkdrPair(ctx, r.dir, r.east, west, r.cfg.SyncAlways, r.daemonLogger())
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
		churn, lag, err := r.underLoad(ctx, west.ConnectString())
		stop()
		if err != nil {
			return fmt.Errorf("zkdr lag: %w", err)
		}
		if err := p.failed(); err != nil {
			return err
		}
		r.rep.Lag.Zkdr, r.rep.Lag.ZkdrChurn = lag, churn
	}
	if r.cfg.wants(ScenarioBacklog) {
		res, err := r.backlog(ctx, p)
		if err != nil {
			return fmt.Errorf("zkdr backlog: %w", err)
		}
		r.rep.Backlog = res
	}
	return nil
}
