package daemon

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/failover/client"
	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/replicator"
	"github.com/zkdr/zkdr/replicator/applier"
	"github.com/zkdr/zkdr/replicator/source"
)

// Daemon is one site's zkdr daemon: it follows the site record in its own
// ensemble and runs a source while the site is active, an applier while it is
// standby, and nothing while it is fenced, switching without a restart.
type Daemon struct {
	cfg *configs.Config
	log hclog.Logger

	mu            sync.Mutex // guards the fields below
	rec           site.Record
	source        *source.Source
	applier       *applier.Applier
	antiEntropy   *AntiEntropy // while standby, with anti_entropy.interval set
	lastErr       error
	errGen        uint64 // counts setErr calls, so a stale clear leaves a newer error alone
	divergenceDir string
	lastRejoin    *failover.RejoinResult
	leading       bool
	// onGuard runs the guard hooks; set before any runner starts.
	onGuard func(applier.GuardState)
}

// DaemonStatus is a point-in-time view of a Daemon.
type DaemonStatus struct {
	Site    string
	Role    site.Role
	Epoch   uint64
	Source  *source.Stats  // while active
	Applier *applier.Stats // while standby
	LastErr string
	// LastRejoin is the last rejoin this daemon ran, with its divergence report.
	LastRejoin *failover.RejoinResult
	// Leading is true while this daemon leads its site (always, without ha.election).
	Leading bool
}

// NewDaemon validates cfg and returns a Daemon; it starts nothing.
func NewDaemon(cfg *configs.Config, logger hclog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Daemon{cfg: cfg, log: logger.Named("site").With("site", cfg.Site)}, nil
}

// Status reports the daemon's role and the current runner's statistics.
func (d *Daemon) Status() DaemonStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := DaemonStatus{Site: d.cfg.Site, Role: d.rec.Role, Epoch: d.rec.Epoch, Leading: d.leading || !d.cfg.HA.Election}
	if d.source != nil {
		s := d.source.Stats()
		st.Source = &s
	}
	if d.applier != nil {
		a := d.applier.Stats()
		st.Applier = &a
	}
	if d.lastErr != nil {
		st.LastErr = d.lastErr.Error()
	}
	if d.lastRejoin != nil {
		r := *d.lastRejoin
		st.LastRejoin = &r
	}
	return st
}

func (d *Daemon) zkConfig() zkconn.Config {
	return zkConfigOf(d.cfg.ZooKeeper)
}

// DivergenceDirEnv names the environment variable that sets where rejoin writes
// divergence reports when SetDivergenceDir was not called.
const DivergenceDirEnv = "ZKDR_DIVERGENCE_DIR"

// SetDivergenceDir sets the directory rejoin writes divergence reports to. Call
// it before Run.
func (d *Daemon) SetDivergenceDir(dir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.divergenceDir = dir
}

func (d *Daemon) reportDir() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.divergenceDir != "":
		return d.divergenceDir
	case os.Getenv(DivergenceDirEnv) != "":
		return os.Getenv(DivergenceDirEnv)
	default:
		return failover.DefaultDivergenceDir
	}
}

// mode is what the daemon runs.
type mode int

const (
	modeIdle    mode = iota // fenced, or waiting for an operator
	modeActive              // source
	modeStandby             // applier
	modeRejoin              // fence self, divergence report, then standby
)

func (m mode) String() string {
	return [...]string{"idle", "active", "standby", "rejoin"}[m]
}

// want is a decision of decide; two equal wants need no restart.
type want struct {
	mode  mode
	epoch uint64
}

// decide turns the site's own record and what is known of the peer into what to
// run. peer.Reachable false or peer.Exists false means the peer says nothing.
//
//   - An active record runs the source, unless the peer is active at a higher
//     epoch: then this site was superseded while away (a promotion happened
//     without it) and must never publish again; it rejoins.
//   - A standby record runs the applier.
//   - A fenced record written by a promotion or a rejoin is resolved by
//     rejoining once the peer is active at an epoch at least as high; one written
//     by a switchover is left to the switchover, which makes the site standby
//     itself (there is nothing to report: the standby applied everything).
func decide(own site.Record, peer client.SiteView) want {
	peerActive := peer.Reachable && peer.Exists && peer.Record.Role == site.RoleActive
	switch own.Role {
	case site.RoleActive:
		if peerActive && peer.Record.Epoch > own.Epoch {
			return want{mode: modeRejoin}
		}
		if peerActive && peer.Record.Epoch == own.Epoch {
			// Two active records at one epoch cannot be written by zkdr's
			// compare-and-sets; publishing now could fork the lineage.
			return want{mode: modeIdle, epoch: own.Epoch}
		}
		return want{mode: modeActive, epoch: own.Epoch}
	case site.RoleStandby:
		return want{mode: modeStandby, epoch: own.Epoch}
	default:
		if own.ChangedBy != site.ChangedBySwitchover && peerActive && peer.Record.Epoch >= own.Epoch {
			return want{mode: modeRejoin}
		}
		return want{mode: modeIdle, epoch: own.Epoch}
	}
}

// run connects to the site's ensemble and NATS and follows the site record until
// ctx ends (it returns nil) or a permanent error. It also watches the peer's
// record (when the config names the peer's servers): a site whose peer was
// promoted past it never starts its source again and rejoins as standby.
func (d *Daemon) run(ctx context.Context) error {
	dialed := make(chan struct{})
	go d.logWaiting(ctx, dialed, "zookeeper not reachable yet; its client keeps trying",
		func() []any { return []any{"servers", d.cfg.ZooKeeper.Servers} })
	conn, err := zkconn.Dial(ctx, d.zkConfig(), d.log.Named("zk"))
	close(dialed)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting: not a failure
		}
		return fmt.Errorf("connect to zookeeper: %w", err)
	}
	defer conn.Close()
	nc, err := ConnectNATS(d.cfg.NATS, d.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if !d.waitNATS(ctx, nc) {
		return nil
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	rec, _, err := site.EnsureRecord(ctx, conn, d.cfg.Site, site.Role(d.cfg.InitialRole))
	if err != nil {
		return err
	}
	d.log.Info("site record", "role", rec.Role, "epoch", rec.Epoch)

	var wg sync.WaitGroup
	defer wg.Wait()
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()

	changes := make(chan site.Record, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = site.WatchRecord(bgCtx, conn, func(s site.RecordState) {
			if s.Err != nil || !s.Exists {
				return
			}
			select {
			case <-changes:
			default:
			}
			changes <- s.Record
		})
	}()

	peerViews, peerNow := d.watchPeer(bgCtx, &wg)
	peer := peerNow()

	hooks := d.startHooks(bgCtx, &wg)
	d.onGuard = d.startGuardHooks(bgCtx, &wg)

	var (
		cur     want
		running bool
		ended   bool // the runner for cur ended by itself: wait for a change
		cancel  context.CancelFunc
		done    chan error
	)
	stop := func(next site.Record) {
		if !running {
			return
		}
		if cur.mode == modeActive && next.Role == site.RoleFenced {
			d.flushBeforeFence(ctx, conn)
		}
		cancel()
		<-done
		running = false
	}
	defer func() { stop(site.Record{}) }()
	for {
		d.mu.Lock()
		d.rec = rec
		d.mu.Unlock()
		w := decide(rec, peer)
		if running && w != cur {
			d.log.Info("changing what the daemon runs", "from", cur.mode, "to", w.mode, "role", rec.Role, "epoch", rec.Epoch)
			stop(rec)
		}
		if !running && (w != cur || !ended) {
			if w.mode == modeRejoin || (w.mode == modeIdle && rec.Role == site.RoleActive) {
				d.log.Warn("peer is active at a higher epoch: this site must not publish",
					"peer", d.cfg.Peer.Name, "peer-epoch", peer.Record.Epoch, "own-epoch", rec.Epoch, "own-role", rec.Role)
			}
			cur, ended, running = w, false, true
			roleCtx, cancelRole := context.WithCancel(ctx)
			cancel = cancelRole
			done = make(chan error, 1)
			go func(w want, rec site.Record) {
				switch w.mode {
				case modeRejoin:
					done <- d.runRejoin(roleCtx, conn)
				case modeIdle:
					d.log.Info("site is idle: neither publishing nor applying", "role", rec.Role, "epoch", rec.Epoch)
					<-roleCtx.Done()
					done <- nil
				default:
					done <- d.runRole(roleCtx, conn, js, rec)
				}
			}(w, rec)
		}
		select {
		case <-ctx.Done():
			return nil
		case next := <-changes:
			if next.Role != rec.Role || next.Epoch != rec.Epoch {
				d.log.Info("site record changed", "role", next.Role, "epoch", next.Epoch, "was-role", rec.Role, "was-epoch", rec.Epoch, "changed-by", next.ChangedBy)
				hooks(next, peer)
			}
			rec = next
		case <-peerViews:
			peer = peerNow()
		case err := <-done:
			running, ended = false, true
			cancel()
			if err != nil {
				return err
			}
		}
	}
}

// Start-up waits: the clients reconnect by themselves (go-zookeeper through
// its server list about once a second, nats.go every 250ms), so the daemon
// never exits or restarts for an unreachable server; it says what it waits
// for, at growing intervals so that an outage of hours does not flood the log.
const (
	waitLogFirst = time.Second
	waitLogMax   = time.Minute
)

// logWaiting logs msg with args() and how long it has waited, after 1s, 2s,
// 4s... (at most a minute apart), until done is closed or ctx ends.
func (d *Daemon) logWaiting(ctx context.Context, done <-chan struct{}, msg string, args func() []any) {
	start := time.Now()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime, b.RandomizationFactor = waitLogFirst, waitLogMax, 0, 0
	b.Reset()
	for {
		t := time.NewTimer(b.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-done:
			t.Stop()
			return
		case <-t.C:
		}
		d.log.Warn(msg, append(args(), "waited", time.Since(start).Round(time.Second))...)
	}
}

// waitNATS waits until nc is connected, saying which servers it cannot reach
// and why (the client's last error, which carries no credentials). It
// returns false if ctx ended first.
func (d *Daemon) waitNATS(ctx context.Context, nc *nats.Conn) bool {
	if nc.IsConnected() {
		return true
	}
	connected := make(chan struct{})
	go d.logWaiting(ctx, connected, "nats not reachable yet; its client keeps trying", func() []any {
		args := []any{"servers", redactURLs(d.cfg.NATS.URLs)}
		if err := nc.LastError(); err != nil {
			args = append(args, "error", err)
		}
		return args
	})
	defer close(connected)
	start := time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	d.log.Info("connected to nats", "server", nc.ConnectedUrlRedacted(), "waited", time.Since(start).Round(time.Second))
	return true
}

// redactURLs drops any user and password from server URLs, for logs.
func redactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			out[i] = "(unparsable url)"
			continue
		}
		u.User = nil
		out[i] = u.Redacted()
	}
	return out
}

// watchPeer follows the peer's record with a Monitor when the config names the
// peer's servers. It returns a channel that signals a change and a function for
// the latest view of the peer. It waits up to the peer's session timeout for a
// first read so that a returning old primary learns about a promotion before it
// starts its source; an unreachable peer then says nothing (the own record
// rules, and a later change of the peer is still acted on).
func (d *Daemon) watchPeer(ctx context.Context, wg *sync.WaitGroup) (<-chan struct{}, func() client.SiteView) {
	signal := make(chan struct{}, 1)
	var (
		mu   sync.Mutex
		view client.SiteView
	)
	now := func() client.SiteView { mu.Lock(); defer mu.Unlock(); return view }
	p := d.cfg.Peer
	if p.Name == "" || len(p.ZooKeeper.Servers) == 0 {
		return signal, now
	}
	mon, err := client.NewMonitor(client.MonitorConfig{
		Sites:          []client.Site{{Name: p.Name, Servers: p.ZooKeeper.Servers}},
		SessionTimeout: p.ZooKeeper.SessionTimeout,
		Auth:           p.ZooKeeper.Auth.Reveal(),
		Logger:         d.log.Named("peer"),
	})
	if err != nil {
		d.log.Warn("not watching the peer's site record", "error", err)
		return signal, now
	}
	mon.Subscribe(func(v client.View) {
		mu.Lock()
		for _, sv := range v.Sites {
			if sv.Site == p.Name {
				view = sv
			}
		}
		mu.Unlock()
		select {
		case signal <- struct{}{}:
		default:
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mon.Run(ctx); err != nil {
			d.log.Warn("peer monitor stopped", "error", err)
		}
	}()
	wait := p.ZooKeeper.SessionTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	select {
	case <-mon.Ready():
	case <-time.After(wait):
		d.log.Warn("peer's site record not read yet: following the own record", "peer", p.Name)
	case <-ctx.Done():
	}
	return signal, now
}

// flushBeforeFence keeps the source running after the site was fenced until it
// has published a heartbeat taken after the fence, so the standby can prove it
// holds every change made before the fence (a switchover waits for exactly that
// heartbeat to be applied). Clients leave a fenced site, so the heartbeat is
// normally the last event. It gives up after a bound (the source may be broken;
// the switchover then times out and unfences).
func (d *Daemon) flushBeforeFence(ctx context.Context, conn *zk.Conn) {
	fenceZxid, err := site.RecordZxid(ctx, conn)
	if err != nil {
		d.log.Warn("fenced: cannot read the fence's zxid; stopping the source at once", "error", err)
		return
	}
	limit := max(30*time.Second, 20*d.cfg.Source.HeartbeatInterval)
	deadline := time.Now().Add(limit)
	log := d.log.With("fence-zxid", fmt.Sprintf("%#x", fenceZxid))
	log.Info("fenced: publishing a last heartbeat before stopping the source")
	for {
		d.mu.Lock()
		src := d.source
		d.mu.Unlock()
		if src == nil {
			log.Warn("fenced: no source is running")
			return
		}
		if st := src.Stats(); st.LastHeartbeatZxid >= fenceZxid {
			log.Info("fenced: last heartbeat published", "heartbeat-zxid", fmt.Sprintf("%#x", st.LastHeartbeatZxid))
			return
		}
		if time.Now().After(deadline) {
			log.Warn("fenced: no heartbeat after the fence was published in time; stopping the source", "waited", limit)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runRejoin runs Rejoin until it succeeds or ctx ends, retrying with backoff.
func (d *Daemon) runRejoin(ctx context.Context, conn *zk.Conn) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	b.MaxInterval = 30 * time.Second
	b.MaxElapsedTime = 0
	op := func() error {
		peer, err := zkconn.Dial(ctx, zkConfigOf(d.cfg.Peer.ZooKeeper), d.log.Named("peer-zk"))
		if err != nil {
			return err
		}
		defer peer.Close()
		res, err := failover.Rejoin(ctx, conn, peer, failover.RejoinOptions{
			Site: d.cfg.Site, Peer: d.cfg.Peer.Name, Dir: d.reportDir(), Scope: scopeOf(d.cfg),
			Logger: d.log,
		})
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.lastRejoin = &res
		d.mu.Unlock()
		return nil
	}
	notify := func(err error, wait time.Duration) {
		d.setErr(err)
		d.log.Error("rejoin failed; retrying", "error", err, "in", wait)
	}
	err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// hooksOf makes the configured hook blocks runnable; one that is not is
// logged and left out.
func (d *Daemon) hooksOf(blocks []configs.Hook) []*Hooks {
	var hooks []*Hooks
	for _, h := range blocks {
		hc := DefaultHooksConfig()
		hc.Commands = [][]string{h.Command}
		if h.Timeout > 0 {
			hc.Timeout = h.Timeout
		}
		hc.Logger = d.log
		hk, err := NewHooks(hc)
		if err != nil {
			d.log.Error("hook not usable", "hook", h.Name, "error", err)
			continue
		}
		hooks = append(hooks, hk)
	}
	return hooks
}

// startHooks starts the worker that runs the configured hooks, one role change
// after the other, and returns the function that queues a change.
func (d *Daemon) startHooks(ctx context.Context, wg *sync.WaitGroup) func(site.Record, client.SiteView) {
	f := d.cfg.Failover
	hooks := d.hooksOf(f.Hooks)
	if f.ActiveConnectFile != "" {
		hc := DefaultHooksConfig()
		hc.ConnectFile = f.ActiveConnectFile
		hc.Logger = d.log
		if hk, err := NewHooks(hc); err == nil {
			hooks = append(hooks, hk)
		}
	}
	if len(hooks) == 0 {
		return func(site.Record, client.SiteView) {}
	}
	queue := hookQueue(ctx, wg, func(ch RoleChange) {
		for _, h := range hooks {
			if err := h.Fire(ctx, ch); err != nil {
				d.log.Error("role-change hook failed", "error", err)
			}
		}
	})
	return func(rec site.Record, peer client.SiteView) {
		ch := RoleChange{Site: rec.Site, Role: rec.Role, Epoch: rec.Epoch}
		switch {
		case rec.Role == site.RoleActive:
			ch.Connect = strings.Join(d.cfg.ZooKeeper.Servers, ",")
		case peer.Exists && peer.Record.Role == site.RoleActive:
			ch.Connect = strings.Join(d.cfg.Peer.ZooKeeper.Servers, ",")
		}
		if !queue(ch) {
			d.log.Warn("role-change hooks are behind; dropping a change", "role", rec.Role, "epoch", rec.Epoch)
		}
	}
}

// runnerRecoveredAfter is how long a runner started again after a failure
// must run before the daemon stops reporting that failure.
const runnerRecoveredAfter = 30 * time.Second

// setErr records the site's runner error (nil: none).
func (d *Daemon) setErr(err error) {
	d.mu.Lock()
	d.lastErr = err
	d.errGen++
	d.mu.Unlock()
}

// clearErrAfter clears the runner error after wait unless another was
// recorded meanwhile; Stop the timer to cancel.
func (d *Daemon) clearErrAfter(wait time.Duration) *time.Timer {
	d.mu.Lock()
	gen := d.errGen
	d.mu.Unlock()
	return time.AfterFunc(wait, func() { d.clearErrIf(gen) })
}

// clearErrIf clears the runner error if none was recorded since generation
// gen.
func (d *Daemon) clearErrIf(gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.errGen == gen && d.lastErr != nil {
		d.lastErr = nil
		d.errGen++
	}
}

// runRole runs what the record asks for, retrying transient failures with
// backoff until ctx ends.
func (d *Daemon) runRole(ctx context.Context, conn *zk.Conn, js jetstream.JetStream, rec site.Record) error {
	var run func(context.Context) error
	switch rec.Role {
	case site.RoleActive:
		run = func(ctx context.Context) error { return d.runActive(ctx, js, rec) }
	case site.RoleStandby:
		run = func(ctx context.Context) error { return d.runStandby(ctx, js, rec) }
	default:
		run = func(ctx context.Context) error {
			d.log.Info("site is fenced: neither publishing nor applying")
			<-ctx.Done()
			return nil
		}
	}
	return d.keepRunning(ctx, rec.Role, run)
}

// keepRunning runs a role's runner until ctx ends, starting it again after a
// transient failure; after a permanent one (a replicator.StopError that says
// so) it waits for ctx without starting it again.
func (d *Daemon) keepRunning(ctx context.Context, role site.Role, run func(context.Context) error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	b.MaxElapsedTime = 0
	op := func() error {
		// A runner that runs a while without failing has recovered: the
		// error of its last failure no longer stands.
		recovered := d.clearErrAfter(runnerRecoveredAfter)
		defer recovered.Stop()
		err := run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		d.setErr(err)
		if err != nil {
			d.log.Error("role runner stopped", "role", role, "error", err)
		}
		// Whatever stopped a runner for good needs an operator, so it is not
		// started again: an applier fenced by another would otherwise claim
		// the standby back and the two take turns, and a source whose journal
		// was fenced by a newer writer would be refused again.
		if replicator.IsPermanent(err) {
			return backoff.Permanent(err)
		}
		return err
	}
	err := backoff.Retry(op, backoff.WithContext(b, ctx))
	if ctx.Err() != nil {
		return nil
	}
	if replicator.IsPermanent(err) {
		// A permanent error needs an operator (skip, guard release, promotion):
		// the daemon stays up for status, /healthz and /metrics, which report
		// the error, until the record changes (which ends ctx). Ending the
		// process instead would have its supervisor start it, and the runner,
		// again.
		<-ctx.Done()
		return nil
	}
	return err
}
