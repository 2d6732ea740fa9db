package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	sitedaemon "github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/internal/natsserver"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

// superAuth is the digest super user of every ensemble the bench starts: the
// standby's applier writes with it and zkbench reads with it.
const superAuth = "super:zkdr-bench"

// startZK starts one standalone ZooKeeper under dir with heap as its -Xmx
// ("" for the harness's default).
func startZK(dir, heap string, logger hclog.Logger) (*zkserver.Cluster, error) {
	c, err := zkserver.Start(zkserver.Config{
		SuperDigest: superAuth, ExtendedTypes: true, Dir: dir, MaxHeap: heap, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start zookeeper in %s: %w", dir, err)
	}
	return c, nil
}

// dialZK opens a super-authenticated session.
func dialZK(ctx context.Context, servers []string) (*zk.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: servers, SessionTimeout: 15 * time.Second, Auth: superAuth}, nil,
		zkconn.WithConnOptions(zk.WithLogInfo(false)))
	if err != nil {
		return nil, fmt.Errorf("zookeeper session: %w", err)
	}
	return conn, nil
}

// zkdrPair is a standby pair for zkdr: two ensembles, two NATS servers (west a
// leaf of east) and the daemons' configs. The daemons run in this process.
type zkdrPair struct {
	east, west         *zkserver.Cluster
	natsEast, natsWest *natsserver.Server
	cfg                map[string]*configs.Config
	daemons            map[string]*daemon
	log                hclog.Logger
	eastConn, westConn *zk.Conn
	active             string // the active site as the bench last made it
}

// standbyName is the site that is not active.
func (p *zkdrPair) standbyName() string {
	if p.active == "west" {
		return "east"
	}
	return "west"
}

// newZkdrPair starts NATS for both sites around existing ensembles.
func newZkdrPair(ctx context.Context, dir string, east, west *zkserver.Cluster, syncAlways bool, watch string, logger hclog.Logger) (*zkdrPair, error) {
	p := &zkdrPair{east: east, west: west, cfg: map[string]*configs.Config{}, daemons: map[string]*daemon{}, log: logger, active: "east"}
	var err error
	p.natsEast, err = natsserver.Start(natsserver.Config{Site: "east", SyncAlways: syncAlways,
		StoreDir: filepath.Join(dir, "nats-east"), Logger: logger.Named("nats-east")})
	if err != nil {
		return nil, fmt.Errorf("start east nats: %w", err)
	}
	p.natsWest, err = natsserver.Start(natsserver.Config{Site: "west", SyncAlways: syncAlways,
		StoreDir: filepath.Join(dir, "nats-west"), LeafPort: natsserver.NoLeafListener,
		LeafRemotes: []string{p.natsEast.LeafURL()}, Logger: logger.Named("nats-west")})
	if err != nil {
		p.close()
		return nil, fmt.Errorf("start west nats: %w", err)
	}
	if err := pollUntil(ctx, 60*time.Second, 100*time.Millisecond, p.natsWest.LeafConnected); err != nil {
		p.close()
		return nil, fmt.Errorf("leafnode link: %w", err)
	}
	zkServers := map[string][]string{"east": east.Servers(), "west": west.Servers()}
	for _, s := range []string{"east", "west"} {
		peer := map[string]string{"east": "west", "west": "east"}[s]
		cfg := configs.Default()
		cfg.Site = s
		cfg.InitialRole = map[string]configs.Role{"east": configs.RoleActive, "west": configs.RoleStandby}[s]
		cfg.ZooKeeper.Servers = zkServers[s]
		cfg.ZooKeeper.Auth = configs.NewSecret(superAuth)
		cfg.NATS.URLs = []string{p.nats(s).ClientURL()}
		cfg.NATS.Domain = s
		cfg.Peer.Name = peer
		cfg.Peer.ZooKeeper.Servers = zkServers[peer]
		cfg.Peer.ZooKeeper.Auth = configs.NewSecret(superAuth)
		cfg.Peer.ZooKeeper.SessionTimeout = cfg.ZooKeeper.SessionTimeout
		cfg.Peer.NATS.Domain = peer
		cfg.Metrics.Listen = ""
		if watch != "" {
			cfg.Source.Watch = watch
		}
		cfg.Applier.IndexFile = filepath.Join(dir, s+"-applier-index")
		if err := cfg.Validate(); err != nil {
			p.close()
			return nil, fmt.Errorf("%s config: %w", s, err)
		}
		p.cfg[s] = cfg
	}
	if p.eastConn, err = dialZK(ctx, east.Servers()); err != nil {
		p.close()
		return nil, err
	}
	if p.westConn, err = dialZK(ctx, west.Servers()); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *zkdrPair) nats(site string) *natsserver.Server {
	if site == "east" {
		return p.natsEast
	}
	return p.natsWest
}

// daemon is one site's zkdr daemon running in this process.
type daemon struct {
	d      *sitedaemon.Daemon
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start runs site's daemon until stop.
func (p *zkdrPair) start(site string) error {
	d, err := sitedaemon.NewDaemon(p.cfg[site], p.log.Named(site))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	dm := &daemon{d: d, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(dm.done)
		dm.err = d.Run(ctx)
		if dm.err != nil {
			p.log.Error("daemon stopped", "site", site, "error", dm.err)
		}
	}()
	p.daemons[site] = dm
	return nil
}

// stop ends site's daemon and waits for it.
func (p *zkdrPair) stop(site string) error {
	dm := p.daemons[site]
	if dm == nil {
		return nil
	}
	delete(p.daemons, site)
	dm.cancel()
	select {
	case <-dm.done:
		return dm.err
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("%s daemon did not stop within 2m", site)
	}
}

// failed returns the error of a daemon that ended by itself.
func (p *zkdrPair) failed() error {
	for site, dm := range p.daemons {
		select {
		case <-dm.done:
			return fmt.Errorf("%s daemon ended: %v", site, dm.err)
		default:
		}
	}
	return nil
}

func (p *zkdrPair) status(site string) sitedaemon.DaemonStatus {
	if dm := p.daemons[site]; dm != nil {
		return dm.d.Status()
	}
	return sitedaemon.DaemonStatus{}
}

// checkpoint reads the standby's applier checkpoint; zero before the first.
func (p *zkdrPair) checkpoint(ctx context.Context) (applier.Checkpoint, error) {
	cp, err := applier.ReadCheckpoint(ctx, p.westConn)
	if errors.Is(err, applier.ErrNoCheckpoint) {
		return applier.Checkpoint{}, nil
	}
	return cp, err
}

// lastSeq is the last sequence of the east journal as site's NATS holds it
// (the stream on east, its mirror on west).
func (p *zkdrPair) lastSeq(ctx context.Context, site string) (uint64, error) {
	nc, err := nats.Connect(p.nats(site).ClientURL())
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	s, err := js.Stream(ctx, journal.StreamName("east"))
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// close stops the daemons and NATS; the ensembles belong to the caller.
func (p *zkdrPair) close() {
	for site := range p.daemons {
		if err := p.stop(site); err != nil {
			p.log.Warn("stop daemon", "site", site, "error", err)
		}
	}
	if p.eastConn != nil {
		p.eastConn.Close()
	}
	if p.westConn != nil {
		p.westConn.Close()
	}
	if p.natsWest != nil {
		p.natsWest.Shutdown()
	}
	if p.natsEast != nil {
		p.natsEast.Shutdown()
	}
}

// profile starts a CPU profile into dir/name.pprof when dir is set, and
// records where goroutines block into dir/name.block.pprof (the apply path
// mostly waits on ZooKeeper round trips, which a CPU profile does not show);
// the returned func stops both. The daemons run in this process, so the
// profiles are theirs plus the bench's own polling, which is small; the peer
// tools run as other processes and are not in them.
func profile(dir, name string, logger hclog.Logger) func() {
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		logger.Warn("cpu profile", "path", path, "error", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		logger.Warn("cpu profile", "path", path, "error", err)
		f.Close()
		return func() {}
	}
	// One sample per 100 µs spent blocked: enough to see round trips.
	runtime.SetBlockProfileRate(100_000)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		logger.Info("cpu profile written", "path", path)
		bpath := filepath.Join(dir, name+".block.pprof")
		if bf, err := os.Create(bpath); err == nil {
			if err := pprof.Lookup("block").WriteTo(bf, 0); err != nil {
				logger.Warn("block profile", "path", bpath, "error", err)
			}
			bf.Close()
		}
		runtime.SetBlockProfileRate(0)
	}
}

// pollUntil checks cond every period until it holds, ctx ends or timeout passes.
func pollUntil(ctx context.Context, timeout, period time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(period):
		}
	}
	return nil
}
