package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/internal/natsserver"
	"github.com/zkdr/zkdr/internal/ratelog"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktree"
)

func init() {
	register("dev", "all-in-one local demo: two local ZooKeepers, embedded NATS, live status", runDev)
}

const devAuth = "super:zkdr-dev"

func runDev(ctx context.Context, args []string) error {
	fs := newFlags("dev")
	forDur := fs.Duration("for", 0, "stop after this long, print a summary, fail if the standby did not converge (0 = until Ctrl-C)")
	verbose := fs.Bool("v", false, "show the daemons' logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	out := &barSafeWriter{w: os.Stderr}
	var logOut io.Writer = out
	if !*verbose {
		logOut = io.Discard
	}
	logger := ratelog.New(hclog.New(&hclog.LoggerOptions{Name: "zkdr", Level: hclog.Info, Output: logOut}), ratelog.DefaultConfig())
	defer logger.Flush()

	dir, err := os.MkdirTemp("", "zkdr-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Printf("zkdr dev: starting two sites under %s\n", dir)

	sites := map[string]*zkserver.Cluster{}
	for _, name := range []string{"east", "west"} {
		c, err := zkserver.Start(zkserver.Config{
			SuperDigest: devAuth, ExtendedTypes: true, Dir: filepath.Join(dir, "zk-"+name),
			Logger: logger.Named("zk-" + name),
		})
		if err != nil {
			return fmt.Errorf("start %s ZooKeeper: %w", name, err)
		}
		defer c.Close()
		sites[name] = c
	}
	natsEast, err := natsserver.Start(natsserver.Config{Site: "east", LeafPort: 0, SyncAlways: true,
		StoreDir: filepath.Join(dir, "nats-east")})
	if err != nil {
		return fmt.Errorf("start east NATS: %w", err)
	}
	defer natsEast.Shutdown()
	natsWest, err := natsserver.Start(natsserver.Config{Site: "west", LeafPort: -1, SyncAlways: true,
		StoreDir: filepath.Join(dir, "nats-west"), LeafRemotes: []string{natsEast.LeafURL()}})
	if err != nil {
		return fmt.Errorf("start west NATS: %w", err)
	}
	defer natsWest.Shutdown()
	if err := waitUntil(ctx, 30*time.Second, natsWest.LeafConnected); err != nil {
		return fmt.Errorf("leafnode link between east and west: %w", err)
	}
	fmt.Printf("  east: ZooKeeper %s, NATS %s (domain east)\n", sites["east"].ConnectString(), natsEast.ClientURL())
	fmt.Printf("  west: ZooKeeper %s, NATS %s (domain west), leafnode to east\n", sites["west"].ConnectString(), natsWest.ClientURL())

	cfgs, err := devConfigs(sites["east"].Servers(), sites["west"].Servers(), natsEast.ClientURL(), natsWest.ClientURL())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	daemons := map[string]*daemon.Daemon{}
	errs := make(chan error, 2)
	for _, name := range []string{"east", "west"} {
		d, err := daemon.NewDaemon(cfgs[name], logger.Named(name))
		if err != nil {
			return err
		}
		daemons[name] = d
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx); err != nil {
				errs <- fmt.Errorf("%s daemon: %w", name, err)
			}
		}()
	}
	// East's source walks the tree first; west's walks after a promotion.
	for _, name := range []string{"east", "west"} {
		wg.Add(1)
		go func() { defer wg.Done(); watchBootstrap(ctx, daemons[name], out, logger.Named(name)) }()
	}
	defer wg.Wait()
	defer cancel()

	east, err := dialDev(ctx, sites["east"].Servers())
	if err != nil {
		return err
	}
	defer east.Close()
	west, err := dialDev(ctx, sites["west"].Servers())
	if err != nil {
		return err
	}
	defer west.Close()
	if err := seedDemo(east); err != nil {
		return fmt.Errorf("seed demo tree: %w", err)
	}
	fmt.Println("  seeded /demo on east; writing a little every 100 ms. Ctrl-C to stop.")

	writeCtx, stopWrites := context.WithCancel(ctx)
	var writes sync.WaitGroup
	writes.Add(1)
	go func() { defer writes.Done(); demoWriter(writeCtx, east) }()
	defer func() { stopWrites(); writes.Wait() }()

	var deadline <-chan time.Time
	if *forDur > 0 {
		deadline = time.After(*forDur)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	meter := newRateMeter()
	for {
		select {
		case <-ctx.Done():
			fmt.Println()
			return nil
		case err := <-errs:
			return err
		case <-tick.C:
			fmt.Println(statusLine(daemons, meter))
		case <-deadline:
			stopWrites()
			writes.Wait()
			return devSummary(ctx, east, west, daemons)
		}
	}
}

// devConfigs builds the two sites' configs from the dev.hcl example, with the
// ports the local servers really got.
func devConfigs(eastZK, westZK []string, eastNATS, westNATS string) (map[string]*configs.Config, error) {
	out := map[string]*configs.Config{}
	for _, name := range []string{"east", "west"} {
		cfg, err := configs.Parse(configs.Examples()["dev.hcl"], "configs/dev.hcl")
		if err != nil {
			return nil, err
		}
		if name == "east" {
			cfg.ZooKeeper.Servers, cfg.NATS.URLs = eastZK, []string{eastNATS}
			cfg.Peer.ZooKeeper.Servers, cfg.Peer.NATS.URLs = westZK, []string{westNATS}
		} else {
			cfg.Site, cfg.InitialRole = "west", configs.RoleStandby
			cfg.ZooKeeper.Servers, cfg.NATS.URLs, cfg.NATS.Domain = westZK, []string{westNATS}, "west"
			cfg.Peer.Name, cfg.Peer.NATS.Domain = "east", "east"
			cfg.Peer.ZooKeeper.Servers, cfg.Peer.NATS.URLs = eastZK, []string{eastNATS}
		}
		cfg.Metrics.Listen = ""
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		out[name] = cfg
	}
	return out, nil
}

func dialDev(ctx context.Context, servers []string) (*zk.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: servers, SessionTimeout: 10 * time.Second, Auth: devAuth}, nil,
		zkconn.WithConnOptions(zk.WithLogInfo(false)))
	if err != nil {
		return nil, fmt.Errorf("connect to ZooKeeper: %w", err)
	}
	return conn, nil
}

// seedDemo writes a small tree that shows what zkdr carries: data, ACLs,
// containers, TTL nodes and sequential names.
func seedDemo(c *zk.Conn) error {
	open := zk.WorldACL(zk.PermAll)
	creates := []struct {
		path string
		data string
		acl  []zk.ACL
	}{
		{"/demo", "zkdr demo tree", open},
		{"/demo/config", "", open},
		{"/demo/config/db", `{"url":"postgres://db.internal:5432/app"}`, open},
		{"/demo/config/feature-flags", `{"new-ui":true}`, open},
		{"/demo/secure", "read-only for the world", zk.WorldACL(zk.PermRead)},
		{"/demo/queue", "", open},
		{"/demo/counters", "", open},
	}
	for _, n := range creates {
		if _, err := c.Create(n.path, []byte(n.data), 0, n.acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("%s: %w", n.path, err)
		}
	}
	if _, err := c.CreateContainer("/demo/locks", nil, zk.FlagContainer, open); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("/demo/locks: %w", err)
	}
	if _, err := c.CreateTTL("/demo/lease", []byte("ttl node"), zk.FlagTTL, open, time.Hour); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("/demo/lease: %w", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Create("/demo/queue/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open); err != nil {
			return err
		}
	}
	return nil
}

// demoWriter keeps a little traffic going: counters change, queue items come
// and go.
func demoWriter(ctx context.Context, c *zk.Conn) {
	open := zk.WorldACL(zk.PermAll)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p := fmt.Sprintf("/demo/counters/c%d", i%10)
		if _, err := c.Set(p, []byte(fmt.Sprint(i)), -1); errors.Is(err, zk.ErrNoNode) {
			_, _ = c.Create(p, []byte(fmt.Sprint(i)), 0, open)
		}
		if i%5 == 0 {
			_, _ = c.Create("/demo/queue/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open)
		}
		if i%7 == 0 {
			if kids, _, err := c.Children("/demo/queue"); err == nil && len(kids) > 5 {
				_ = c.Delete("/demo/queue/"+kids[0], -1)
			}
		}
	}
}

// rateMeter turns counters into per-second rates between two status lines.
type rateMeter struct {
	last map[string]uint64
	at   time.Time
}

func newRateMeter() *rateMeter { return &rateMeter{last: map[string]uint64{}, at: time.Now()} }

func (m *rateMeter) rate(key string, v uint64) float64 {
	prev, ok := m.last[key]
	m.last[key] = v
	if !ok || v < prev {
		return 0
	}
	return float64(v-prev) / time.Since(m.at).Seconds()
}

func statusLine(daemons map[string]*daemon.Daemon, m *rateMeter) string {
	var parts []string
	for _, name := range []string{"east", "west"} {
		parts = append(parts, siteSummary(daemons[name].Status(), m))
	}
	m.at = time.Now()
	return time.Now().Format("15:04:05") + "  " + strings.Join(parts, "  |  ")
}

func siteSummary(st daemon.DaemonStatus, m *rateMeter) string {
	s := fmt.Sprintf("%s %-7s epoch %d", st.Site, st.Role, st.Epoch)
	switch {
	case st.Source != nil:
		src := st.Source
		s += fmt.Sprintf("  published %d (%.0f ev/s)  heartbeat 0x%x", src.EventsPublished,
			m.rate(st.Site+"/pub", src.EventsPublished), src.LastHeartbeatZxid)
	case st.Applier != nil:
		ap := st.Applier
		lag := "-"
		if !ap.WatermarkTime.IsZero() {
			lag = time.Since(ap.WatermarkTime).Round(10 * time.Millisecond).String()
		}
		s += fmt.Sprintf("  applied %d (%.0f ev/s)  watermark 0x%x  lag %s", ap.EventsApplied,
			m.rate(st.Site+"/app", ap.EventsApplied), ap.WatermarkZxid, lag)
	}
	if st.LastErr != "" {
		s += "  error: " + st.LastErr
	}
	return s
}

// devSummary waits for the standby to converge after writes stopped and says
// whether it did.
func devSummary(ctx context.Context, east, west *zk.Conn, daemons map[string]*daemon.Daemon) error {
	fmt.Println("writes stopped; waiting for west to converge...")
	var diff []zktree.Difference
	err := waitUntil(ctx, 60*time.Second, func() bool {
		a, err := zktree.Walk(ctx, east, "/", zktree.Options{})
		if err != nil {
			return false
		}
		b, err := zktree.Walk(ctx, west, "/", zktree.Options{})
		if err != nil {
			return false
		}
		diff = zktree.Diff(a, b)
		return len(diff) == 0
	})
	for _, name := range []string{"east", "west"} {
		fmt.Println("  " + siteSummary(daemons[name].Status(), newRateMeter()))
	}
	if err != nil {
		for i, d := range diff {
			if i == 10 {
				fmt.Printf("  ... and %d more\n", len(diff)-10)
				break
			}
			fmt.Println("  differs: " + d.String())
		}
		return &exitError{code: 1, err: fmt.Errorf("west did not converge with east: %d differences", len(diff))}
	}
	fmt.Println("converged: west equals east (paths, data, ACLs, modes)")
	return nil
}

// waitUntil polls cond until it holds, ctx ends or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
