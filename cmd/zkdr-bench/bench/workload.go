package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/workload"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/replicator/applier"
)

// WorkloadResult is the workload scenario: internal/workload's application
// shapes (Kafka, Curator locks, queues, a service registry, Solr) driven on
// the primary while zkdr replicates it.
type WorkloadResult struct {
	// Rate is the operations per second asked for (0: as fast as the
	// workload's lanes go), Duration how long they ran; Achieved is the rate
	// they ran at. One operation is one application action: a queue put, a
	// lock acquired, a topic of 100 partitions created.
	Rate     int           `json:"rate_per_s"`
	Duration time.Duration `json:"duration_ns"`
	Achieved float64       `json:"achieved_per_s"`
	// BaseNodes is what Populate built under the workload's prefix before
	// the standby was seeded, in Populate time.
	BaseNodes int           `json:"base_nodes"`
	Populate  time.Duration `json:"populate_ns"`

	Ops     int64            `json:"ops"`
	ByKind  map[string]int64 `json:"ops_by_kind"`
	Creates int64            `json:"creates"`
	Sets    int64            `json:"sets"`
	Deletes int64            `json:"deletes"`
	Bytes   int64            `json:"bytes"`
	Errors  int64            `json:"errors"`

	// Lag is zkbench probe's, writing timestamps into leaves of the loaded
	// tree while the workload runs; LagPeak the largest lag the standby's
	// daemon reported (sampled every 100 ms) from the start of the load
	// until the standby was equal.
	Lag        LagResult     `json:"lag"`
	LagPeak    time.Duration `json:"lag_peak_ns"`
	LagSamples int           `json:"lag_samples"`
	// ToEqual runs from the end of the load until the zkbench diff of the
	// workload's subtree that passed had finished (an upper bound: the
	// standby was equal by then), DiffTook is how long that diff walked.
	ToEqual  time.Duration `json:"to_equal_ns"`
	DiffTook time.Duration `json:"diff_took_ns"`
	// GuardPauses counts the delete guard's pauses on the workload's own
	// deletes, each released at once (it should pause on none).
	GuardPauses int `json:"guard_pauses,omitempty"`
}

// workloadPrefix is where the workload's roots go on the primary.
func (r *Runner) workloadPrefix() string { return r.cfg.Root + "/apps" }

// workloadPhase measures zkdr under the application workload on a pair of
// its own (its own NATS servers, a fresh standby): the base tree is built on
// the primary, both daemons start and seed the standby, then the workload
// runs for WorkloadDuration at WorkloadRate with zkbench probe beside it,
// and the bench waits until zkbench diff finds the workload's subtree equal.
// The workload's tree and the pair's /zkdr are deleted from the primary
// afterwards, so the scenarios after it see the primary they would see
// without it.
func (r *Runner) workloadPhase(ctx context.Context) (*WorkloadResult, error) {
	prefix := r.workloadPrefix()
	wc := workload.DefaultConfig()
	wc.Servers, wc.Prefix, wc.Size, wc.Rate = r.east.Servers(), prefix, r.cfg.WorkloadSize, float64(r.cfg.WorkloadRate)
	wc.Logger = r.log.Named("workload")
	wl, err := workload.New(wc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := r.removeWorkload(ctx, wl, prefix); err != nil {
			r.problem("workload: %v", err)
		}
	}()
	res := &WorkloadResult{Rate: r.cfg.WorkloadRate, Duration: r.cfg.WorkloadDuration}
	start := time.Now()
	if err := wl.Populate(ctx); err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	res.Populate, res.BaseNodes = time.Since(start), int(wl.Stats().Creates)
	r.log.Info("workload populated", "prefix", prefix, "znodes", res.BaseNodes, "took", res.Populate)

	west, err := r.freshWest("workload")
	if err != nil {
		return nil, err
	}
	defer west.Close()
	p, err := newZkdrPair(ctx, filepath.Join(r.dir, "workload"), r.east, west, r.cfg.SyncAlways, r.cfg.Watch, r.daemonLogger())
	if err != nil {
		return nil, err
	}
	defer p.close()
	if err := r.startSeeded(ctx, p); err != nil {
		return nil, err
	}
	if _, err := r.zb.waitEqual(ctx, r.eastAddr(), west.ConnectString(), prefix, r.cfg.Timeout); err != nil {
		return nil, fmt.Errorf("the standby did not take the workload's base tree: %w", err)
	}
	if err := r.resetProbes(ctx, west.ConnectString()); err != nil {
		return nil, err
	}

	stopGuard := r.releaseGuard(ctx, p)
	stopSampling := r.sampleLag(p)
	stopProfile := sync.OnceFunc(profile(r.cfg.CPUProfileDir, "workload", r.log))
	r.log.Info("workload", "rate", r.cfg.WorkloadRate, "duration", r.cfg.WorkloadDuration)
	var (
		probeOut           string
		runStart, ended    time.Time
		diffStart, equalAt time.Time
	)
	dur := r.cfg.WorkloadDuration
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		rctx, cancel := context.WithTimeout(gctx, dur)
		runStart = time.Now()
		err := wl.Run(rctx)
		cancel()
		ended = time.Now()
		if err != nil {
			return err
		}
		stopProfile()
		// The probe's last few seconds overlap this wait; it writes outside
		// the workload's subtree.
		diffStart, equalAt, err = r.equalBy(gctx, west.ConnectString(), prefix)
		return err
	})
	g.Go(func() error {
		var err error
		probeOut, err = r.zb.run(gctx, "probe", "-src", r.eastAddr(), "-dst", west.ConnectString(), "-root", r.cfg.Root,
			"-n", strconv.Itoa(r.cfg.Nodes), "-fanout", strconv.Itoa(r.cfg.Fanout), "-k", strconv.Itoa(r.cfg.ProbeNodes),
			"-dur", dur.String(), "-every", r.cfg.ProbeEvery.String())
		if err != nil && strings.Contains(probeOut, "no probe arrived") {
			return nil // a figure, not a failure
		}
		return err
	})
	err = g.Wait()
	stopProfile()
	samples := stopSampling()
	res.GuardPauses = stopGuard()
	if err == nil {
		err = p.failed()
	}
	if err != nil {
		return nil, fmt.Errorf("workload run: %w", err)
	}
	if lag, err := parseProbe(probeOut); err == nil {
		res.Lag = lag
	}
	st := wl.Stats()
	res.Ops = st.Ops - 1 // Populate's
	res.ByKind = map[string]int64{}
	for k, n := range st.ByKind {
		if k != workload.KindPopulate {
			res.ByKind[string(k)] = n
		}
	}
	base := int64(res.BaseNodes)
	res.Creates, res.Sets, res.Deletes, res.Errors = st.Creates-base, st.Sets, st.Deletes, st.Errors
	res.Bytes = st.Bytes
	res.Achieved = float64(res.Ops) / ended.Sub(runStart).Seconds()
	res.ToEqual, res.DiffTook = equalAt.Sub(ended), equalAt.Sub(diffStart)
	res.LagPeak, _, res.LagSamples = lagOver(samples, runStart, equalAt)
	r.log.Info("workload done", "ops", res.Ops, "achieved", fmt.Sprintf("%.0f/s", res.Achieved), "p50", res.Lag.P50,
		"p99", res.Lag.P99, "max", res.Lag.Max, "lag-peak", res.LagPeak, "to-equal", res.ToEqual, "errors", res.Errors)
	if res.Errors > 0 {
		r.problem("workload: %d operations failed", res.Errors)
	}
	if res.GuardPauses > 0 {
		r.problem("workload: the delete guard paused %d times on the workload's ordinary deletes (released each time)", res.GuardPauses)
	}
	return res, nil
}

// equalBy runs zkbench diff of root between the primary and dst until one
// passes, and returns when that one started and when it ended.
func (r *Runner) equalBy(ctx context.Context, dst, root string) (start, end time.Time, err error) {
	deadline := time.Now().Add(r.cfg.Timeout)
	for {
		start = time.Now()
		ok, out, err := r.zb.diff(ctx, r.eastAddr(), dst, root)
		if err != nil {
			return start, start, err
		}
		if ok {
			return start, time.Now(), nil
		}
		if time.Now().After(deadline) {
			return start, start, fmt.Errorf("%w after %s: %s", ErrNotEqual, r.cfg.Timeout, tail(out, 1500))
		}
		select {
		case <-ctx.Done():
			return start, start, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startSeeded starts both daemons of a fresh pair and waits until the
// standby holds the snapshot of the primary.
func (r *Runner) startSeeded(ctx context.Context, p *zkdrPair) error {
	if err := p.start("west"); err != nil {
		return err
	}
	if err := p.start("east"); err != nil {
		return err
	}
	var cpErr error
	err := pollUntil(ctx, r.cfg.Timeout, 50*time.Millisecond, func() bool {
		if cpErr = p.failed(); cpErr != nil {
			return true
		}
		cp, err := p.checkpoint(ctx)
		return err == nil && cp.Snapshot == nil && cp.Seq != 0 && cp.WatermarkZxid != 0
	})
	if err == nil {
		err = cpErr
	}
	if err != nil {
		return fmt.Errorf("wait for the standby's snapshot: %w", err)
	}
	return nil
}

// releaseGuard releases the standby's delete guard whenever it pauses, until
// the returned func is called, which returns how many times it did.
func (r *Runner) releaseGuard(ctx context.Context, p *zkdrPair) func() int {
	stop, done := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	n := 0
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if g, ok, err := applier.ReadGuard(ctx, p.westConn); err == nil && ok && g.State == applier.GuardPaused {
				if err := applier.ReleaseGuard(ctx, p.westConn); err == nil {
					mu.Lock()
					n++
					mu.Unlock()
					r.log.Warn("delete guard paused on the workload; released", "deletes", g.Deletes, "replicated", g.Replicated)
				}
			}
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() int {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// removeWorkload deletes the workload's tree and its prefix from the
// primary, and closes the workload's sessions.
func (r *Runner) removeWorkload(ctx context.Context, wl *workload.Workload, prefix string) error {
	n, err := wl.Wipe(ctx)
	wl.Close()
	if err != nil {
		return fmt.Errorf("remove the workload's tree: %w", err)
	}
	conn, err := dialZK(ctx, r.east.Servers())
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Delete(prefix, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete %s: %w", prefix, err)
	}
	// The pair's daemons have stopped; their site record and heartbeat go
	// too, so the next pair starts on the primary as the first one did.
	if err := deleteAll(conn, zkpath.Root); err != nil {
		return err
	}
	r.log.Info("workload removed from the primary", "znodes", n+1)
	return nil
}

// deleteAll deletes p and everything below it, one node at a time.
func deleteAll(conn *zk.Conn, p string) error {
	kids, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", p, err)
	}
	for _, k := range kids {
		if err := deleteAll(conn, p+"/"+k); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	return nil
}

// workloadRow is the application workload's row, when it ran.
func (r *Report) workloadRow() (Row, bool) {
	w := r.Workload
	if w == nil {
		return Row{}, false
	}
	rate := thousands(w.Rate) + " ops/s"
	if w.Rate == 0 {
		rate = "as many ops/s as it goes"
	}
	row := Row{
		Scenario: fmt.Sprintf("application workload (Kafka, Curator locks, queues, service registry, Solr): %s for %s on a base of %s znodes, beside %s znodes",
			rate, w.Duration, thousands(w.BaseNodes), thousands(r.Setup.Nodes)),
		Zkdr: fmt.Sprintf("%s; reported lag peak %s; equal by %s after the load stopped (the diff that passed took %s; %.0f ops/s: %s creates, %s sets, %s deletes, %s MB, %d errors)",
			lagText(w.Lag), ms(w.LagPeak), secs(w.ToEqual), secs(w.DiffTook), w.Achieved, thousands(int(w.Creates)), thousands(int(w.Sets)),
			thousands(int(w.Deletes)), strconv.FormatFloat(float64(w.Bytes)/1e6, 'f', 1, 64), w.Errors),
		Peers: "—",
	}
	if w.GuardPauses > 0 {
		row.Zkdr += fmt.Sprintf("; the delete guard paused %d times", w.GuardPauses)
	}
	return row, true
}
