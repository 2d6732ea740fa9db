package bench

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkserver"
)

// Runner runs the scenarios of one Config.
type Runner struct {
	cfg Config
	log hclog.Logger

	// Set by Run.
	dir     string
	zb      *zkbench
	east    *zkserver.Cluster
	rep     *Report
	zkdrBin string // the zkdr command, built when a daemon runs as a process
	westSeq int    // numbers the fresh standbys
}

// New validates cfg; it starts nothing.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &Runner{cfg: cfg, log: cfg.Logger}, nil
}

// Run loads the primary once and measures the peers, then zkdr, on fresh
// standbys. It returns the report so far with the error of a scenario that
// failed; every server it started is stopped before it returns.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	r.rep = &Report{Label: r.cfg.Label, Started: start, Setup: Setup{
		Nodes: r.cfg.Nodes, TreeNodes: r.cfg.treeSize(), Fanout: r.cfg.Fanout, DataSize: r.cfg.DataSize,
		SyncAlways: r.cfg.SyncAlways, CuratorMirror: r.cfg.CuratorMirror, ZooKeeperHeap: cmp.Or(r.cfg.ZooKeeperHeap, zkserver.DefaultConfig().MaxHeap),
		SourceProcess: r.cfg.SourceProcess,
		Watch:         r.cfg.Watch,
	}}
	if r.cfg.wants(ScenarioLag) {
		r.rep.Setup.ChurnRate, r.rep.Setup.ChurnDuration = r.cfg.ChurnRate, r.cfg.ChurnDuration
	}
	if r.cfg.wants(ScenarioBacklog) {
		r.rep.Setup.Backlog = r.cfg.Backlog
	}
	stopLoad := r.sampleLoad()
	err := r.run(ctx)
	stopLoad()
	r.rep.Took = time.Since(start)
	r.rep.buildRows()
	return r.rep, err
}

func (r *Runner) run(ctx context.Context) (err error) {
	r.dir = r.cfg.WorkDir
	if r.dir == "" {
		d, err := os.MkdirTemp("", "zkdr-bench-")
		if err != nil {
			return err
		}
		r.dir = d
		defer func() {
			// Keep the servers' and daemons' logs of a failed run.
			if err == nil && !r.cfg.KeepWorkDir {
				os.RemoveAll(d)
			} else {
				r.log.Info("work directory kept", "dir", d)
			}
		}()
	} else if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	if r.cfg.CPUProfileDir != "" {
		if err := os.MkdirAll(r.cfg.CPUProfileDir, 0o755); err != nil {
			return err
		}
	}
	r.log.Info("building zkbench", "peers", r.cfg.PeersDir)
	bin, err := buildZkbench(ctx, r.cfg.PeersDir, r.dir)
	if err != nil {
		return err
	}
	r.zb = &zkbench{bin: bin, auth: superAuth, log: r.log}

	r.east, err = startZK(filepath.Join(r.dir, "zk-east"), r.cfg.ZooKeeperHeap, r.log.Named("zk-east"))
	if err != nil {
		return err
	}
	defer r.east.Close()
	r.rep.Machine = describeMachine(ctx, r.east.Servers()[0])
	r.log.Info("loading the primary", "nodes", r.cfg.Nodes, "fanout", r.cfg.Fanout, "size", r.cfg.DataSize)
	out, err := r.zb.run(ctx, "load", "-zk", r.eastAddr(), "-root", r.cfg.Root, "-n", strconv.Itoa(r.cfg.Nodes),
		"-fanout", strconv.Itoa(r.cfg.Fanout), "-size", strconv.Itoa(r.cfg.DataSize))
	if err != nil {
		return err
	}
	if _, took, err := parseLoad(out); err == nil {
		r.rep.Setup.LoadTook = took
	}
	if r.cfg.wants(ScenarioCeiling) {
		r.log.Info("measuring the primary's write ceiling")
		c, steps, err := r.writeCeiling(ctx)
		if err != nil {
			return fmt.Errorf("primary write ceiling: %w", err)
		}
		r.rep.Ceiling = &CeilingScenario{WriteCeiling: c, Steps: steps, Duration: r.cfg.CeilingDuration}
		r.log.Info("primary write ceiling", "sets-per-s", int(c))
	}
	if r.cfg.wants(ScenarioSeed) {
		r.rep.Seed = &SeedResult{}
		if err := r.seedCopies(ctx); err != nil {
			return err
		}
	}
	if r.cfg.wants(ScenarioLag) {
		r.rep.Lag = &LagScenario{}
	}
	if r.cfg.CuratorMirror && (r.cfg.wants(ScenarioSeed) || r.cfg.wants(ScenarioLag) || r.cfg.wants(ScenarioCeiling)) {
		if err := r.curatorPhase(ctx); err != nil {
			r.problem("curator-mirror: %v", err)
		}
	}
	if r.cfg.wants(ScenarioBurst) {
		r.rep.Burst = &BurstResult{Children: r.cfg.BurstChildren, PerMulti: r.cfg.BurstPerMulti}
		if r.cfg.CuratorMirror {
			res, err := r.curatorBurst(ctx)
			if err != nil {
				r.problem("curator-mirror burst: %v", err)
			}
			r.rep.Burst.Curator = res
		}
	}
	if r.cfg.wants(ScenarioWorkload) {
		res, err := r.workloadPhase(ctx)
		if err != nil {
			return fmt.Errorf("zkdr under the application workload: %w", err)
		}
		r.rep.Workload = res
	}
	if !r.cfg.wantsZkdrPair() {
		return nil
	}
	return r.zkdrPhase(ctx)
}

func (r *Runner) eastAddr() string { return r.east.ConnectString() }

// freshWest starts a new, empty standby ensemble.
func (r *Runner) freshWest(name string) (*zkserver.Cluster, error) {
	r.westSeq++
	return startZK(filepath.Join(r.dir, fmt.Sprintf("zk-west-%d-%s", r.westSeq, name)), r.cfg.ZooKeeperHeap, r.log.Named("zk-west-"+name))
}

// problem records something that went wrong without stopping the run.
func (r *Runner) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if lines := strings.Split(strings.TrimSpace(msg), "\n"); len(lines) > 2 {
		// A diff's list of paths: its first line and its summary say enough.
		msg = strings.TrimSpace(lines[0]) + " ... " + strings.TrimSpace(lines[len(lines)-1])
	}
	r.log.Warn("problem", "what", msg)
	r.rep.Problems = append(r.rep.Problems, msg)
}

// daemonLogger sends the zkdr daemons' logs to a file in the work directory.
func (r *Runner) daemonLogger() hclog.Logger {
	f, err := os.OpenFile(filepath.Join(r.dir, "zkdr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.log.Warn("daemon log", "error", err)
		return hclog.NewNullLogger()
	}
	level := hclog.LevelFromString(r.cfg.DaemonLogLevel)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Name: "zkdr", Level: level, Output: f, TimeFormat: "15:04:05.000"})
}

// sampleLoad records the one-minute load average every 10 s until the
// returned func is called, into the report's machine description: the
// machine may be shared, and the figures mean more with its load beside them.
func (r *Runner) sampleLoad() func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var samples []float64
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			if v, err := strconv.ParseFloat(loadAverage(), 64); err == nil {
				samples = append(samples, v)
			}
			select {
			case <-stop:
				if len(samples) > 0 {
					sum := 0.0
					for _, v := range samples {
						sum += v
					}
					r.rep.Machine.LoadDuring = fmt.Sprintf("mean %.1f, max %.1f over %d samples",
						sum/float64(len(samples)), slices.Max(samples), len(samples))
				}
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(stop); <-done }
}
