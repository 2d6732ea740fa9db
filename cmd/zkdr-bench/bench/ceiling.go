package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// CeilingStep is one step of the primary's write-ceiling search: zkbench churn
// offered Offered sets/s and Achieved were acknowledged per second of wall
// time (sets a saturated server queues are done after the offered time, so
// the wall time, not the offered duration, divides them).
type CeilingStep struct {
	Offered  int     `json:"offered_per_s"`
	Achieved float64 `json:"achieved_per_s"`
}

// writeCeiling finds the primary's own setData ceiling with no mirror running:
// zkbench churn at rising rates until the achieved rate stays under 90 % of
// the offered one and no longer rises by 5 % a step; the ceiling is the best
// achieved rate.
func (r *Runner) writeCeiling(ctx context.Context) (float64, []CeilingStep, error) {
	var steps []CeilingStep
	best := 0.0
	for offered := r.cfg.CeilingStart; offered <= r.cfg.CeilingStart*16; offered = offered * 3 / 2 {
		start := time.Now()
		out, err := r.zb.run(ctx, "churn", "-zk", r.eastAddr(), "-root", r.cfg.Root, "-n", strconv.Itoa(r.cfg.Nodes),
			"-fanout", strconv.Itoa(r.cfg.Fanout), "-size", strconv.Itoa(r.cfg.DataSize),
			"-rate", strconv.Itoa(offered), "-dur", r.cfg.CeilingStep.String())
		if err != nil {
			return 0, steps, err
		}
		c, err := parseChurn(out)
		if err != nil {
			return 0, steps, err
		}
		s := CeilingStep{Offered: offered, Achieved: float64(c.Sets) / time.Since(start).Seconds()}
		steps = append(steps, s)
		r.log.Info("write ceiling step", "offered", offered, "achieved", int(s.Achieved), "errors", c.Errors)
		saturated := s.Achieved < 0.9*float64(offered)
		rising := s.Achieved > 1.05*best
		best = max(best, s.Achieved)
		if saturated && !rising {
			break
		}
	}
	return best, steps, nil
}

// Growth says whether a mirror's lag grew over the last Window of a load: a
// least-squares line through (send time, lag) of the probes sent in it.
type Growth struct {
	Window time.Duration `json:"window_ns"`
	// Sent probes were written in the window; Samples of them arrived. A
	// mirror that reads a node after its change notification (zkdr's source,
	// Curator's cache) shows only the newest of close writes, so Samples
	// counts against nothing; Unseen is how long before the end of the load
	// the newest probe that arrived was sent.
	Sent    int           `json:"sent"`
	Samples int           `json:"samples"`
	Unseen  time.Duration `json:"unseen_ns"`
	// Slope is seconds of lag gained per second of load; First and Last are
	// the line's lag at the window's ends.
	Slope float64       `json:"slope"`
	First time.Duration `json:"first_ns"`
	Last  time.Duration `json:"last_ns"`
	Grows bool          `json:"grows"`
}

// growthLimit is the slope past which lag counts as growing: half a second of
// lag gained over a 20 s window, far above the noise of a mirror in step and
// far below a mirror falling behind (which gains about a second per second).
const growthLimit = 0.025

// unseenLimit: a mirror that showed nothing sent in the last 5 s of the load
// within 3 s after it is behind by more than the trend can tell.
const unseenLimit = 5 * time.Second

// lagTracker writes timestamps into a few nodes of its own under the primary's
// root and watches them on the standby: unlike zkbench probe it keeps every
// sample with its send time, so the lag's trend over the load can be seen.
// The churn never writes its nodes, so a mirror in step sees nearly every
// timestamp; one that misses most of them is far behind.
type lagTracker struct {
	src, dst *zk.Conn
	paths    []string
	every    time.Duration

	mu   sync.Mutex
	seen map[int64]time.Duration // send time (unix ns) -> lag
	sent []time.Time
}

const lagPrefix = "zkdrlag:"

func newLagTracker(src, dst *zk.Conn, cfg Config) *lagTracker {
	const k = 10
	t := &lagTracker{src: src, dst: dst, every: 100 * time.Millisecond, seen: map[int64]time.Duration{}}
	for i := range k {
		t.paths = append(t.paths, fmt.Sprintf("%s/zkdrlag-%d", cfg.Root, i))
	}
	return t
}

// prepare creates the tracker's nodes on the primary and waits until the
// standby has them.
func (t *lagTracker) prepare(ctx context.Context) error {
	for _, p := range t.paths {
		if _, err := t.src.Create(p, []byte("y"), 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return pollUntil(ctx, 2*time.Minute, 100*time.Millisecond, func() bool {
		for _, p := range t.paths {
			if ok, _, err := t.dst.Exists(p); err != nil || !ok {
				return false
			}
		}
		return true
	})
}

// run writes and watches for dur, then watches 3 s more.
func (t *lagTracker) run(ctx context.Context, dur time.Duration) {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, p := range t.paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.watch(wctx, p)
		}()
	}
	end := time.Now().Add(dur)
	tick := time.NewTicker(t.every)
	for i := 0; time.Now().Before(end); i++ {
		b := make([]byte, len(lagPrefix)+8)
		copy(b, lagPrefix)
		binary.BigEndian.PutUint64(b[len(lagPrefix):], uint64(time.Now().UnixNano()))
		if _, err := t.src.Set(t.paths[i%len(t.paths)], b, -1); err == nil {
			t.mu.Lock()
			t.sent = append(t.sent, time.Unix(0, int64(binary.BigEndian.Uint64(b[len(lagPrefix):]))))
			t.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	tick.Stop()
	select {
	case <-ctx.Done():
	case <-time.After(3 * time.Second):
	}
	cancel()
	wg.Wait()
}

func (t *lagTracker) watch(ctx context.Context, p string) {
	for ctx.Err() == nil {
		data, _, ch, err := t.dst.GetW(p)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		now := time.Now()
		if len(data) == len(lagPrefix)+8 && string(data[:len(lagPrefix)]) == lagPrefix {
			sent := int64(binary.BigEndian.Uint64(data[len(lagPrefix):]))
			t.mu.Lock()
			if _, ok := t.seen[sent]; !ok {
				t.seen[sent] = now.Sub(time.Unix(0, sent))
			}
			t.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-ch:
		}
	}
}

// growth fits the lag of the probes sent in the last window of the load,
// which ended at end.
func (t *lagTracker) growth(end time.Time, window time.Duration) Growth {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := Growth{Window: window}
	from := end.Add(-window)
	var xs, ys []float64
	for sent, lag := range t.seen {
		at := time.Unix(0, sent)
		if at.Before(from) || at.After(end) {
			continue
		}
		xs = append(xs, at.Sub(from).Seconds())
		ys = append(ys, lag.Seconds())
	}
	g.Samples = len(xs)
	for _, at := range t.sent {
		if !at.Before(from) && !at.After(end) {
			g.Sent++
		}
	}
	newest := from
	for sent := range t.seen {
		if at := time.Unix(0, sent); at.After(newest) && !at.After(end) {
			newest = at
		}
	}
	g.Unseen = end.Sub(newest)
	if len(xs) < 2 {
		g.Grows = true // nothing sent in the window showed: far behind
		return g
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	n := float64(len(xs))
	den := n*sxx - sx*sx
	if den == 0 {
		return g
	}
	g.Slope = (n*sxy - sx*sy) / den
	icept := (sy - g.Slope*sx) / n
	g.First = time.Duration(icept * float64(time.Second))
	g.Last = time.Duration((icept + g.Slope*window.Seconds()) * float64(time.Second))
	g.Grows = g.Slope > growthLimit || g.Unseen > unseenLimit
	return g
}

// CeilingLag is one mirror under the load at the primary's ceiling.
type CeilingLag struct {
	Lag    LagResult   `json:"lag"`
	Churn  ChurnResult `json:"churn"`
	Growth Growth      `json:"growth"`
	// Behind: the mirror was not equal to the primary a few seconds after the
	// load ended.
	Behind bool `json:"behind,omitempty"`
	// Note says what kept the figure from being taken cleanly.
	Note string `json:"note,omitempty"`
	// Stages is zkdr's latency by stage over the load (none for a peer).
	Stages []StageFigure `json:"stages,omitempty"`
}

// CeilingScenario is the lag scenario at the primary's own write ceiling.
type CeilingScenario struct {
	WriteCeiling float64       `json:"primary_write_ceiling_per_s"`
	Steps        []CeilingStep `json:"steps"`
	Duration     time.Duration `json:"duration_ns"`
	Zkdr         *CeilingLag   `json:"zkdr,omitempty"`
	Curator      *CeilingLag   `json:"curator_mirror,omitempty"`
}

// atCeiling runs the load at the primary's measured ceiling towards dst with
// both probes (zkbench probe for the quantiles, the lag tracker for the trend).
func (r *Runner) atCeiling(ctx context.Context, dst string) (*CeilingLag, error) {
	rate := int(r.rep.Ceiling.WriteCeiling)
	dur := r.cfg.CeilingDuration
	src, err := dialZK(ctx, r.east.Servers())
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dconn, err := dialZK(ctx, []string{dst})
	if err != nil {
		return nil, err
	}
	defer dconn.Close()
	tr := newLagTracker(src, dconn, r.cfg)
	if err := tr.prepare(ctx); err != nil {
		return nil, fmt.Errorf("lag tracker's nodes: %w", err)
	}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		tr.run(ctx, dur)
	}()
	churn, lag, err := r.underLoad(ctx, dst, rate, dur)
	<-done
	if err != nil {
		return nil, err
	}
	res := &CeilingLag{Lag: lag, Churn: churn, Growth: tr.growth(start.Add(dur), min(20*time.Second, dur))}
	r.log.Info("lag at the ceiling", "rate", rate, "p99", lag.P99, "slope", fmt.Sprintf("%.3f", res.Growth.Slope), "grows", res.Growth.Grows)
	return res, nil
}
