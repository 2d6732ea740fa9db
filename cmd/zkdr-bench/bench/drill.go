package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/failover/client"
	sitedaemon "github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/replicator/applier"
)

// drillWriter is a client that follows the active site (client.Connect, as
// an application would) and sets a fixed set of the tree's leaves at a steady
// rate. Each worker owns its own leaves and writes them one at a time, so a
// leaf's newest value is its newest acknowledged write or a later one whose
// answer was lost; every acknowledgement is kept with the site that gave it.
type drillWriter struct {
	conn    *zk.Conn
	sites   map[string]string // server address -> site
	paths   []string
	workers int
	every   time.Duration // per worker
	size    int

	mu     sync.Mutex
	acked  map[string]uint64 // path -> newest acknowledged sequence
	acks   []ack
	errors int

	cancel context.CancelFunc
	done   chan struct{}
}

type ack struct {
	at   time.Time
	site string
}

// startDrillWriter connects a following client and starts writing rate sets/s
// over nPaths leaves.
func (r *Runner) startDrillWriter(ctx context.Context, p *zkdrPair, rate, nPaths int) (*drillWriter, error) {
	cfg := client.DefaultClientConfig()
	cfg.Sites = []client.Site{{Name: "east", Servers: p.east.Servers()}, {Name: "west", Servers: p.west.Servers()}}
	cfg.SessionTimeout = 6 * time.Second
	cfg.MonitorAuth = superAuth
	cfg.Logger = p.log.Named("client")
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, _, err := client.Connect(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect a following client: %w", err)
	}
	const workers = 32
	w := &drillWriter{conn: conn, sites: map[string]string{}, workers: workers, size: r.cfg.DataSize,
		every: time.Duration(float64(time.Second) * workers / float64(rate)), acked: map[string]uint64{}, done: make(chan struct{})}
	for _, s := range p.east.Servers() {
		w.sites[s] = "east"
	}
	for _, s := range p.west.Servers() {
		w.sites[s] = "west"
	}
	for i := range min(nPaths, r.cfg.Nodes) {
		w.paths = append(w.paths, leafPath(r.cfg.Root, i, r.cfg.Fanout))
	}
	wctx, wcancel := context.WithCancel(context.Background())
	w.cancel = wcancel
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work(wctx, k)
		}()
	}
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return w, nil
}

func (w *drillWriter) work(ctx context.Context, k int) {
	var mine []string
	for i := k; i < len(w.paths); i += w.workers {
		mine = append(mine, w.paths[i])
	}
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for seq := uint64(1); ; seq++ {
		p := mine[int(seq)%len(mine)]
		v := fmt.Sprintf("drill:%020d", seq)
		if pad := w.size - len(v); pad > 0 {
			v += strings.Repeat(".", pad)
		}
		_, err := w.conn.Set(p, []byte(v), -1)
		now := time.Now()
		site := w.sites[w.conn.Server()]
		w.mu.Lock()
		if err == nil {
			w.acked[p] = seq
			w.acks = append(w.acks, ack{at: now, site: site})
		} else {
			w.errors++
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *drillWriter) stop() {
	w.cancel()
	<-w.done
	w.conn.Close()
}

// ackedSnapshot returns the newest acknowledged sequence of every leaf.
func (w *drillWriter) ackedSnapshot() map[string]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]uint64, len(w.acked))
	for p, s := range w.acked {
		out[p] = s
	}
	return out
}

// firstAckOn waits for the first acknowledgement from site after since.
func (w *drillWriter) firstAckOn(ctx context.Context, site string, since time.Time, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := pollUntil(ctx, timeout, 10*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i := len(w.acks) - 1; i >= 0 && w.acks[i].at.After(since); i-- {
			if w.acks[i].site == site {
				at = w.acks[i].at
			}
		}
		return !at.IsZero()
	})
	return at, err
}

// gap is the write-unavailable window a client saw: from the last
// acknowledgement by from before the first by to (after since), to that one.
func (w *drillWriter) gap(from, to string, since time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	first := -1
	for i, a := range w.acks {
		if a.at.After(since) && a.site == to {
			first = i
			break
		}
	}
	if first < 0 {
		return 0, false
	}
	for i := first - 1; i >= 0; i-- {
		if w.acks[i].site == from {
			return w.acks[first].at.Sub(w.acks[i].at), true
		}
	}
	return 0, false
}

// rate is the acknowledged writes per second over the last span.
func (w *drillWriter) rate(span time.Duration) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := time.Now().Add(-span)
	n := 0
	for i := len(w.acks) - 1; i >= 0 && w.acks[i].at.After(from); i-- {
		n++
	}
	return float64(n) / span.Seconds()
}

// lost counts the leaves whose value on conn is older than their newest
// acknowledged write in acked: acknowledged writes the site does not hold.
func lost(ctx context.Context, conn *zk.Conn, acked map[string]uint64) (int, error) {
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var mu sync.Mutex
	n := 0
	for p, want := range acked {
		g.Go(func() error {
			data, _, err := conn.Get(p)
			if err != nil {
				return fmt.Errorf("read %s: %w", p, err)
			}
			var have uint64
			if v, ok := strings.CutPrefix(string(data), "drill:"); ok && len(v) >= 20 {
				have, _ = strconv.ParseUint(v[:20], 10, 64)
			}
			if have < want {
				mu.Lock()
				n++
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	return n, err
}

// Drill is one switchover under load.
type Drill struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Window is what the client saw: from its last acknowledged write on the
	// old active site to its first on the new one. Reported is the
	// switchover's own write-unavailable figure (fence to promotion).
	Window   time.Duration `json:"client_window_ns"`
	Reported time.Duration `json:"reported_window_ns"`
	Took     time.Duration `json:"took_ns"`
	// Lost is how many leaves the new active site holds older than their
	// newest acknowledged write: the RPO in writes (0 is RPO 0).
	Lost int `json:"lost"`
	// StandbyReady is how long the bench waited before the drill for the
	// standby's lag to come under half of max_lag_for_switchover.
	StandbyReady time.Duration `json:"standby_ready_ns"`
	Verified     bool          `json:"verified"`
	Error        string        `json:"error,omitempty"`
}

// SwitchoverResult is the switchover scenario.
type SwitchoverResult struct {
	Rate      int     `json:"offered_sets_per_s"`
	Achieved  float64 `json:"achieved_sets_per_s"`
	Drills    []Drill `json:"drills"`
	WriteErrs int     `json:"write_errors"`
}

// switchovers drills the planned switchover n times, alternating direction,
// while the following client writes; the writer keeps running for promote.
func (r *Runner) switchovers(ctx context.Context, p *zkdrPair, w *drillWriter) (*SwitchoverResult, error) {
	res := &SwitchoverResult{Rate: r.cfg.DrillRate}
	active, standby := p.active, p.standbyName()
	for i := range r.cfg.Drills {
		// The preflight wants the standby in step: let the writer run on the
		// current active site for a moment first.
		if _, err := w.firstAckOn(ctx, active, time.Now(), time.Minute); err != nil {
			return res, fmt.Errorf("drill %d: no write on %s: %w", i+1, active, err)
		}
		time.Sleep(2 * time.Second)
		res.Achieved = max(res.Achieved, w.rate(2*time.Second))
		// After a switchover the new standby applies the new active site's
		// snapshot first (the whole tree) before its watermark moves; the
		// preflight refuses a standby further behind than max_lag_for_switchover.
		ready, err := r.waitStandbyLag(ctx, p, standby, p.cfg[active].Failover.MaxLagForSwitchover/2)
		if err != nil {
			return res, fmt.Errorf("drill %d: %w", i+1, err)
		}
		r.log.Info("switchover drill", "n", i+1, "from", active, "to", standby, "standby-ready-after", ready)
		opts := failover.DefaultSwitchoverOptions()
		opts.Logger = p.log.Named("switchover")
		start := time.Now()
		rep, err := failover.Switchover(ctx, sitedaemon.SwitchoverConfig(p.cfg[active]), opts)
		d := Drill{From: active, To: standby, StandbyReady: ready}
		if rep != nil {
			d.Reported, d.Took, d.Verified = time.Duration(rep.WriteUnavailable), time.Duration(rep.Took), rep.Verified
		}
		if err != nil {
			d.Error = err.Error()
			res.Drills = append(res.Drills, d)
			return res, fmt.Errorf("drill %d %s -> %s: %w", i+1, active, standby, err)
		}
		if _, err := w.firstAckOn(ctx, standby, start, time.Minute); err != nil {
			return res, fmt.Errorf("drill %d: the client wrote nothing on %s: %w", i+1, standby, err)
		}
		d.Window, _ = w.gap(active, standby, start)
		// Every write acknowledged so far, by either site, must be on the new
		// active one.
		time.Sleep(500 * time.Millisecond)
		acked := w.ackedSnapshot()
		conn := p.westConn
		if standby == "east" {
			conn = p.eastConn
		}
		if d.Lost, err = lost(ctx, conn, acked); err != nil {
			return res, err
		}
		r.log.Info("switchover done", "n", i+1, "client-window", d.Window, "reported", d.Reported, "took", d.Took, "lost", d.Lost)
		res.Drills = append(res.Drills, d)
		active, standby = standby, active
		p.active = active
	}
	w.mu.Lock()
	res.WriteErrs = w.errors
	w.mu.Unlock()
	return res, nil
}

// PromoteResult is the promote scenario: the active site is killed (its
// ZooKeeper, NATS and daemon) under the client's load and the other promoted.
type PromoteResult struct {
	Killed string `json:"killed"`
	// ToWrite is from the promote command to the client's first acknowledged
	// write on the new active site; Drain is from the command to the end of
	// its drain step (the steps before it wait while the daemon applies), which
	// depends on the backlog left; AfterDrain is from there to the write.
	ToWrite    time.Duration `json:"to_write_ns"`
	Drain      time.Duration `json:"drain_ns"`
	AfterDrain time.Duration `json:"after_drain_ns"`
	Steps      []string      `json:"steps"`
	// Lost counts acknowledged writes the new active site lacks (unplanned:
	// expected within the report's data-loss window).
	Lost           int           `json:"lost"`
	DataLossWindow time.Duration `json:"data_loss_window_ns"`
}

// promoteAfterLoss kills the active site and promotes the standby.
func (r *Runner) promoteAfterLoss(ctx context.Context, p *zkdrPair, w *drillWriter) (*PromoteResult, error) {
	dead, survivor := p.active, p.standbyName()
	res := &PromoteResult{Killed: dead}
	if _, err := w.firstAckOn(ctx, dead, time.Now(), time.Minute); err != nil {
		return nil, fmt.Errorf("no write on %s before the kill: %w", dead, err)
	}
	time.Sleep(2 * time.Second)
	r.log.Info("killing the active site", "site", dead)
	cluster := p.east
	if dead == "west" {
		cluster = p.west
	}
	if err := cluster.Kill(0); err != nil {
		return nil, err
	}
	p.nats(dead).Shutdown()
	if err := p.stop(dead); err != nil {
		r.log.Debug("daemon of the killed site", "error", err)
	}
	acked := w.ackedSnapshot()

	opts := failover.DefaultPromoteOptions()
	opts.Logger = p.log.Named("promote")
	start := time.Now()
	rep, err := failover.Promote(ctx, sitedaemon.PromoteConfig(p.cfg[survivor]), opts)
	if err != nil {
		return nil, fmt.Errorf("promote %s: %w", survivor, err)
	}
	first, err := w.firstAckOn(ctx, survivor, start, 2*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("the client wrote nothing on %s after the promotion: %w", survivor, err)
	}
	res.ToWrite = first.Sub(start)
	// The steps follow each other from the command's start; the daemon
	// applies the mirror all along, so the drain ends where its step ends
	// (the attempt to reach the dead peer, before it, overlaps the apply).
	drained := start
	for _, s := range rep.Steps {
		res.Steps = append(res.Steps, fmt.Sprintf("%s %s", s.Name, time.Duration(s.Took).Round(time.Millisecond)))
		if res.Drain == 0 {
			drained = drained.Add(time.Duration(s.Took))
		}
		if s.Name == "drain" {
			res.Drain = drained.Sub(start)
		}
	}
	res.AfterDrain = first.Sub(drained)
	res.DataLossWindow = time.Duration(rep.DataLossWindow)
	conn := p.westConn
	if survivor == "east" {
		conn = p.eastConn
	}
	if res.Lost, err = lost(ctx, conn, acked); err != nil {
		return nil, err
	}
	p.active = survivor
	r.log.Info("promoted", "site", survivor, "to-write", res.ToWrite, "drain", res.Drain, "steps", strings.Join(res.Steps, ", "), "lost", res.Lost)
	return res, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// waitStandbyLag waits until site's applier checkpoint has a watermark newer
// than maxLag and returns how long that took.
func (r *Runner) waitStandbyLag(ctx context.Context, p *zkdrPair, site string, maxLag time.Duration) (time.Duration, error) {
	conn := p.westConn
	if site == "east" {
		conn = p.eastConn
	}
	start := time.Now()
	err := pollUntil(ctx, r.cfg.Timeout, 200*time.Millisecond, func() bool {
		cp, err := applier.ReadCheckpoint(ctx, conn)
		return err == nil && time.Since(cp.WatermarkAt()) < maxLag
	})
	if err != nil {
		return 0, fmt.Errorf("standby %s lag not under %s: %w", site, maxLag, err)
	}
	return time.Since(start), nil
}
