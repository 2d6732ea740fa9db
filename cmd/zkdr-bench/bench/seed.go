package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// seedCopies measures the one-shot copiers, each into a fresh standby.
func (r *Runner) seedCopies(ctx context.Context) error {
	took, _, err := r.copyInto(ctx, "parallel", 0)
	if err != nil {
		return fmt.Errorf("copy parallel: %w", err)
	}
	r.rep.Seed.Parallel = took
	if r.cfg.SerialCopy {
		took, capped, err := r.copyInto(ctx, "serial", r.cfg.SerialCap)
		if err != nil {
			r.problem("copy serial: %v", err)
		} else {
			r.rep.Seed.Serial, r.rep.Seed.SerialCapped = took, capped
		}
	}
	return nil
}

// copyInto runs zkbench copy into a fresh standby and checks the result with
// zkbench diff. A copy still running at limit (0 = none) is stopped and its
// time reported as a lower bound (capped).
func (r *Runner) copyInto(ctx context.Context, mode string, limit time.Duration) (took time.Duration, capped bool, err error) {
	west, err := r.freshWest("copy-" + mode)
	if err != nil {
		return 0, false, err
	}
	defer west.Close()
	r.log.Info("seeding with zkbench copy", "mode", mode, "limit", limit)
	runCtx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	start := time.Now()
	out, err := r.zb.run(runCtx, "copy", "-src", r.eastAddr(), "-dst", west.ConnectString(), "-root", r.cfg.Root, "-mode", mode)
	if err != nil {
		if limit > 0 && errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return time.Since(start), true, nil
		}
		return 0, false, err
	}
	_, took, err = parseCopy(out)
	if err != nil {
		return 0, false, err
	}
	ok, diff, err := r.zb.diff(ctx, r.eastAddr(), west.ConnectString(), r.cfg.Root)
	if err != nil {
		return 0, false, err
	}
	if !ok {
		return 0, false, fmt.Errorf("%w after copy %s: %s", ErrNotEqual, mode, tail(diff, 500))
	}
	r.log.Info("copy done", "mode", mode, "took", took)
	return took, false, nil
}

// curatorPhase seeds a fresh standby with the Curator-based mirror and, for the
// lag scenario, keeps it running under the steady load.
func (r *Runner) curatorPhase(ctx context.Context) error {
	west, err := r.freshWest("curator")
	if err != nil {
		return err
	}
	defer west.Close()
	r.log.Info("seeding with curator-mirror")
	start := time.Now()
	m, err := startCurator(r.cfg.PeersDir, r.eastAddr(), west.ConnectString(), r.cfg.Root, filepath.Join(r.dir, "curator-mirror.log"))
	if err != nil {
		return err
	}
	defer m.stop()
	if err := m.waitInitialized(ctx, r.cfg.Timeout); err != nil {
		return err
	}
	equal, err := r.zb.waitEqual(ctx, r.eastAddr(), west.ConnectString(), r.cfg.Root, r.cfg.Timeout)
	if err != nil {
		return err
	}
	if r.rep.Seed != nil {
		r.rep.Seed.Curator = equal.Sub(start)
		r.log.Info("curator-mirror seeded", "took", r.rep.Seed.Curator)
	}
	if r.cfg.wants(ScenarioLag) {
		churn, lag, err := r.underLoad(ctx, west.ConnectString(), r.cfg.ChurnRate, r.cfg.ChurnDuration)
		if err != nil {
			return err
		}
		r.rep.Lag.Curator, r.rep.Lag.CuratorChurn = &lag, &churn
		r.rep.Lag.CuratorRSSMB = rssMB(m.cmd.Process.Pid)
		// A mirror that has not caught up a few seconds after the load stopped
		// has fallen behind; its probe figures then miss the probes still queued.
		if ok, _, err := r.zb.diff(ctx, r.eastAddr(), west.ConnectString(), r.cfg.Root); err == nil && !ok {
			r.rep.Lag.CuratorBehind = true
		}
	}
	if r.cfg.wants(ScenarioCeiling) && r.rep.Ceiling != nil {
		// Start in step, so the trend is the ceiling load's own.
		var note string
		if _, err := r.zb.waitEqual(ctx, r.eastAddr(), west.ConnectString(), r.cfg.Root, 3*time.Minute); err != nil {
			note = "still behind the earlier load when this one started"
		}
		res, err := r.atCeiling(ctx, west.ConnectString())
		if err != nil {
			return err
		}
		res.Note = note
		if ok, _, err := r.zb.diff(ctx, r.eastAddr(), west.ConnectString(), r.cfg.Root); err == nil && !ok {
			res.Behind = true
		}
		r.rep.Ceiling.Curator = res
	}
	return nil
}

// zkdrSeed starts both daemons on the fresh pair and returns how long until the
// applier's checkpoint said the snapshot was in, and until the standby was
// seen equal.
func (r *Runner) zkdrSeed(ctx context.Context, p *zkdrPair) (applied, equal time.Duration, err error) {
	stopProfile := profile(r.cfg.CPUProfileDir, "seed", r.log)
	defer stopProfile()
	var child *childDaemon
	var mem *memWatch
	if r.cfg.SourceProcess {
		bin, err := buildZkdr(ctx, r.dir)
		if err != nil {
			return 0, 0, err
		}
		defer func() {
			if mem != nil && r.rep.Seed != nil {
				r.rep.Seed.SourceRSSMB = mem.end()
			}
			if child != nil {
				child.stop()
			}
		}()
		r.zkdrBin = bin
	}
	start := time.Now()
	if err := p.start("west"); err != nil {
		return 0, 0, err
	}
	if r.cfg.SourceProcess {
		c, err := p.startChild(r.zkdrBin, r.dir, "east")
		if err != nil {
			return 0, 0, err
		}
		child, mem = c, watchMemory(c.cmd.Process.Pid)
	} else if err := p.start("east"); err != nil {
		return 0, 0, err
	}
	// The snapshot is in when the checkpoint is out of it and has counted the
	// whole tree, or once a heartbeat (sent only after the walk) was applied.
	var cpErr error
	err = pollUntil(ctx, r.cfg.Timeout, 20*time.Millisecond, func() bool {
		if cpErr = p.failed(); cpErr != nil {
			return true
		}
		if child != nil {
			if cpErr = child.exited(); cpErr != nil {
				return true
			}
		}
		cp, err := p.checkpoint(ctx)
		if err != nil || cp.Snapshot != nil || cp.Seq == 0 {
			return false
		}
		return cp.Applied >= uint64(r.cfg.treeSize()) || cp.WatermarkZxid != 0
	})
	if err == nil {
		err = cpErr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("wait for the standby's snapshot: %w", err)
	}
	applied = time.Since(start)
	at, err := r.zb.waitEqual(ctx, r.eastAddr(), p.west.ConnectString(), r.cfg.Root, r.cfg.Timeout)
	if err != nil {
		return 0, 0, err
	}
	equal = at.Sub(start)
	if equal < applied {
		equal = applied
	}
	return applied, equal, nil
}
