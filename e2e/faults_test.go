package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/faultproxy"
	"github.com/zkdr/zkdr/internal/natsserver"
	"github.com/zkdr/zkdr/internal/workload"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

// The fault tests run a write load on the active site, inject one fault
// while it runs, and then prove that nothing was lost, nothing was applied
// twice and the standby equals the active site by an independent walk.

// longTestsEnv turns on the tests that take minutes (make e2e-long sets it).
const longTestsEnv = "ZKDR_E2E_LONG"

// faultCounters is how many counter nodes the load sets.
const faultCounters = 20

// faultLoad is the write load of a fault test, on the active site under root:
//   - acked: unique creates under root/acked, each retried until acknowledged
//     and remembered, never changed again: each must reach the standby, and the
//     journal must hold exactly one create (or a snapshot's copy) of each;
//   - counters root/counters/cNN, only set: the standby's version of each must
//     equal the journal's writes of it minus one (each applied exactly once);
//   - root/mixed: creates, sets, deletes, re-creates and ACL changes;
//   - root/apps: the application workload (internal/workload: Kafka topics
//     created and deleted, queues filled and drained, locks, a registry,
//     Solr state), at 100 operations a second, under the default delete
//     guard, which must never pause on it.
type faultLoad struct {
	root   string
	acked  *loadWriter
	sets   atomic.Int64
	mixed  atomic.Int64
	apps   *workload.Workload
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func startFaultLoad(t *testing.T, p *pair, root string) *faultLoad {
	t.Helper()
	c := p.conn["east"]
	for _, path := range []string{root, root + "/acked", root + "/counters", root + "/mixed"} {
		mustCreate(t, c, path, nil, 0, nil)
	}
	wcfg := workload.DefaultConfig()
	wcfg.Servers, wcfg.Auth, wcfg.Prefix, wcfg.Seed = p.zk["east"].Servers(), superAuth, root+"/apps", 23
	wcfg.Rate = 100
	wcfg.Logger = p.logger.Named("workload")
	apps, err := workload.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = apps.Close() })
	if err := apps.Populate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < faultCounters; i++ {
		mustCreate(t, c, counterPath(root, i), counter(0), 0, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &faultLoad{root: root, cancel: cancel}
	l.acked = startWriter(c, root+"/acked", 5*time.Millisecond)
	for w := 0; w < 2; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := uint64(1); ctx.Err() == nil; n++ {
				if _, err := c.Set(counterPath(root, (w*7+int(n))%faultCounters), counter(n), -1); err == nil {
					l.sets.Add(1)
				} else {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.mixed.Store(int64(mixedWorkload(ctx, c, root+"/mixed", 2))) }()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := apps.Run(ctx); err != nil {
			t.Errorf("application workload: %v", err)
		}
	}()
	l.apps = apps
	t.Cleanup(l.stop)
	return l
}

func counterPath(root string, i int) string { return fmt.Sprintf("%s/counters/c%02d", root, i) }

func (l *faultLoad) stop() {
	l.once.Do(func() {
		l.cancel()
		l.wg.Wait()
		l.acked.stop()
	})
}

// waitWrites waits until n more creates were acknowledged than now.
func (l *faultLoad) waitWrites(t *testing.T, n int, what string) {
	t.Helper()
	from := l.acked.count()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d acknowledged creates %s", n, what), func() bool { return l.acked.count() >= from+n })
}

// loadReport is what verifyLoad found, for the test's log.
type loadReport struct {
	acked, sets, mixed int
	journalEvents      int
	counterWrites      int
	apps               workload.Stats
}

func (r loadReport) String() string {
	return fmt.Sprintf("%d acknowledged creates, %d counter sets (%d journal writes of counters), %d mixed operations, "+
		"%d application operations (%d creates, %d deletes, %d errors); %d events in the journal",
		r.acked, r.sets, r.counterWrites, r.mixed, r.apps.Ops, r.apps.Creates, r.apps.Deletes, r.apps.Errors, r.journalEvents)
}

// verifyLoad stops the load and proves its guarantees once west converged
// with east: every acknowledged create is on west with its data; the journal
// (read from west's mirror of east's stream) is contiguous and holds each
// acknowledged create exactly once (as a create or, after a re-walk, a
// snapshot's node; never two creates); every counter's version on west equals
// the journal's writes of it minus one, so no event was applied twice or
// skipped.
func (p *pair) verifyLoad(l *faultLoad) loadReport {
	t := p.t
	t.Helper()
	l.stop()
	p.waitConverged(3 * time.Minute)
	if _, ok, err := applier.ReadGuard(context.Background(), p.conn["west"]); err != nil || ok {
		t.Fatalf("the delete guard holds on the standby (%v, %v): the load's deletes are ordinary", ok, err)
	}
	acked, _ := l.acked.snapshot()
	if miss := missingOn(t, p.conn["west"], acked); len(miss) > 0 {
		t.Fatalf("%d of %d acknowledged creates are missing on west, the first %s (acknowledged at %s)",
			len(miss), len(acked), miss[0].path, miss[0].at.Format(time.RFC3339Nano))
	}
	stream := journal.StreamName("east")
	url := p.nats["west"].ClientURL()
	assertContiguous(t, url, stream)
	creates, snaps, writes := map[string]int{}, map[string]int{}, map[string]int{}
	events := 0
	readJournal(t, url, stream, func(m journal.Message) {
		for _, ev := range m.Events {
			events++
			switch ev.Kind {
			case journal.KindCreate:
				creates[ev.Path]++
				writes[ev.Path]++
			case journal.KindSnapshotNode:
				snaps[ev.Path]++
				writes[ev.Path]++
			case journal.KindUpdate:
				writes[ev.Path]++
			}
		}
	})
	for _, w := range acked {
		if creates[w.path] > 1 {
			t.Fatalf("the journal holds %d creates of %s: an append was duplicated", creates[w.path], w.path)
		}
		if creates[w.path]+snaps[w.path] == 0 {
			t.Fatalf("the journal holds no create of %s, acknowledged at %s: an append was lost", w.path, w.at.Format(time.RFC3339Nano))
		}
	}
	rep := loadReport{acked: len(acked), sets: int(l.sets.Load()), mixed: int(l.mixed.Load()), journalEvents: events, apps: l.apps.Stats()}
	for i := 0; i < faultCounters; i++ {
		path := counterPath(l.root, i)
		_, st, err := p.conn["west"].Get(path)
		if err != nil {
			t.Fatal(err)
		}
		rep.counterWrites += writes[path]
		if want := int32(writes[path] - 1); st.Version != want {
			t.Fatalf("%s: standby version %d, but the journal holds %d writes of it (want version %d): an event was applied twice or skipped",
				path, st.Version, writes[path], want)
		}
	}
	t.Logf("verified: %s", rep)
	return rep
}

// logTee is a test logger whose lines are also kept for assertions.
type logTee struct {
	mu   sync.Mutex
	buf  strings.Builder
	next io.Writer
}

// captureLogs makes the daemons p starts in-process log through a logTee.
func captureLogs(p *pair) *logTee {
	w := &tWriter{t: p.t}
	p.t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	lt := &logTee{next: w}
	p.logger = hclog.New(&hclog.LoggerOptions{Name: "zkdr", Level: hclog.Debug, Output: lt})
	return lt
}

func (l *logTee) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(b)
	l.mu.Unlock()
	return l.next.Write(b)
}

// count is how many lines hold s.
func (l *logTee) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// journalLast is the last sequence of stream as seen from url, or 0.
func journalLast(url, stream string) uint64 {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return 0
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.LastSeq
}

// Scenario: the active site's NATS server restarts while the source appends.
// The source's appends fail meanwhile and are retried with backoff; once the
// server is back they resume where they stopped: the journal is contiguous,
// holds every acknowledged create exactly once, and the standby converges.
func TestActiveNATSRestart(t *testing.T) {
	p := newPair(t)
	logs := captureLogs(p)
	west := p.conn["west"]
	de := p.start("east")
	p.start("west")
	l := startFaultLoad(t, p, "/natsrestart")
	waitFor(t, 2*time.Minute, "west to apply the load", func() bool { return readCheckpoint(t, west).Seq > 50 })
	l.waitWrites(t, 50, "before the restart")

	stream, url := journal.StreamName("east"), p.nats["east"].ClientURL()
	before := journalLast(url, stream)
	published := de.d.Status().Source.EventsPublished
	// The server goes away for a while (its store, client and leaf ports are
	// kept) and a new one starts on them, as a process restart would.
	old := p.nats["east"]
	port, _ := strconv.Atoi(url[strings.LastIndex(url, ":")+1:])
	leafAddr := old.LeafAddr()
	leafPort, _ := strconv.Atoi(leafAddr[strings.LastIndex(leafAddr, ":")+1:])
	downAt := time.Now()
	old.Shutdown()
	waitFor(t, time.Minute, "the source's appends to fail", func() bool { return logs.count("append failed") > 0 })
	failed := logs.count("append failed")
	const down = 15 * time.Second
	time.Sleep(time.Until(downAt.Add(down))) // the outage lasts this long; the load goes on
	p.nats["east"] = natsserver.StartT(t, natsserver.Config{Site: "east", SyncAlways: true, StoreDir: old.StoreDir(), Port: port, LeafPort: leafPort})
	upAt := time.Now()
	waitFor(t, 2*time.Minute, "appends to resume", func() bool { return journalLast(url, stream) > before+20 })
	resumed := time.Since(upAt)
	l.waitWrites(t, 100, "after the restart")
	rep := p.verifyLoad(l)
	assertContiguous(t, url, stream)

	st := de.d.Status()
	if st.Source == nil || st.LastErr != "" {
		t.Fatalf("east's source is not running after the restart: %+v", st)
	}
	if st.Source.EventsPublished <= published {
		t.Fatalf("the source published nothing after the restart (%d events before, %d after)", published, st.Source.EventsPublished)
	}
	t.Logf("scenario 3: NATS down for %s at journal sequence %d; appends resumed %s after it was back; "+
		"%d failed appends logged before the restart, %d \"stream tail unavailable, retrying\" lines, %d runner restarts; %s",
		upAt.Sub(downAt).Round(time.Millisecond), before, resumed.Round(time.Millisecond),
		failed, logs.count("stream tail unavailable"), logs.count("role runner stopped"), rep)
}

// Scenario (make e2e-long): the link between the sites is cut for 60 s under
// writes, then healed. The standby's reported lag (zkdr_replication_lag_seconds
// from its daemon's /metrics, and `zkdr status --json`) grows through the cut
// and comes back to normal after it; the mirror catches up and nothing is
// lost.
func TestLinkCutLong(t *testing.T) {
	if os.Getenv(longTestsEnv) == "" {
		t.Skipf("takes minutes: run by make e2e-long (%s=1)", longTestsEnv)
	}
	const cut = 60 * time.Second
	metricsAddr := freeAddr(t)
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		if site == "west" {
			c.Metrics.Listen = metricsAddr
		}
	}))
	west := p.conn["west"]
	p.start("east")
	p.startProcess("west")
	l := startFaultLoad(t, p, "/linkcut")
	waitFor(t, 2*time.Minute, "a watermark on west", func() bool { return readCheckpoint(t, west).WatermarkZxid != 0 })

	lagNow := func() (float64, bool) { return scrapeLag(metricsAddr) }
	// A baseline: the largest lag over 5 s of normal replication.
	var baseline float64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if v, ok := lagNow(); ok {
			baseline = max(baseline, v)
		}
	}
	cfgPath := p.configFile("west")

	p.link.Cut()
	cutAt := time.Now()
	var peak float64
	var samples []string
	for time.Since(cutAt) < cut {
		if v, ok := lagNow(); ok {
			peak = max(peak, v)
			if len(samples) == 0 || time.Since(cutAt) >= time.Duration(len(samples))*10*time.Second {
				samples = append(samples, fmt.Sprintf("%.0fs:%.1f", time.Since(cutAt).Seconds(), v))
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	statusLag := westStatusLag(t, p, cfgPath)
	p.link.Heal()
	healAt := time.Now()
	// The lag grew through the cut: the last heartbeat west applied is from
	// before it.
	if peak < 0.75*cut.Seconds() {
		t.Fatalf("reported lag peaked at %.1fs during a %s cut (samples %v)", peak, cut, samples)
	}
	if statusLag < 0.75*cut.Seconds() {
		t.Fatalf("zkdr status --json reported a lag of %.1fs at the end of a %s cut", statusLag, cut)
	}
	normal := max(5, 2*baseline)
	var after float64
	waitFor(t, 3*time.Minute, fmt.Sprintf("the reported lag back under %.1fs", normal), func() bool {
		v, ok := lagNow()
		after = v
		return ok && v < normal
	})
	recovered := time.Since(healAt)
	l.waitWrites(t, 50, "after the link healed")
	rep := p.verifyLoad(l)
	t.Logf("scenario 4: lag %.2fs before the cut; during the %s cut %v, peak %.1fs (status --json: %.1fs); back to %.2fs %s after healing; %s",
		baseline, cut, samples, peak, statusLag, after, recovered.Round(100*time.Millisecond), rep)
}

// scrapeLag reads zkdr_replication_lag_seconds from a daemon's /metrics.
func scrapeLag(addr string) (float64, bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "zkdr_replication_lag_seconds{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// westStatusLag runs `zkdr status --json` with west's config and returns the
// lag it reports for west.
func westStatusLag(t *testing.T, p *pair, cfgPath string) float64 {
	t.Helper()
	stdout, stderr, err := runZkdr("status", "--config", cfgPath, "--json")
	if err != nil {
		t.Fatalf("zkdr status: %v\n%s", err, stderr)
	}
	var sites []struct {
		Site      string `json:"site"`
		Watermark *struct {
			LagSec float64 `json:"lag_seconds"`
		} `json:"watermark"`
	}
	if err := json.Unmarshal([]byte(stdout), &sites); err != nil {
		t.Fatalf("zkdr status --json: %v\n%s", err, stdout)
	}
	for _, s := range sites {
		if s.Site == "west" && s.Watermark != nil {
			return s.Watermark.LagSec
		}
	}
	t.Fatalf("zkdr status --json shows no watermark for west:\n%s", stdout)
	return 0
}

// siteLayout says how many servers each site runs.
type siteLayout struct {
	eastZK, westZK int
	// eastNATSCluster runs east's NATS as a three-server JetStream cluster;
	// west's leafnode lists all three (without a fault proxy).
	eastNATSCluster bool
}

// newLayoutPair is newPair with the servers of layout. It returns east's NATS
// cluster when the layout has one (p.nats["east"] is then its first server).
func newLayoutPair(t *testing.T, layout siteLayout, tune func(site string, c *configs.Config)) (*pair, *natsserver.Cluster) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts ZooKeeper and NATS")
	}
	p := &pair{
		t: t, zk: map[string]*zkserver.Cluster{}, nats: map[string]*natsserver.Server{},
		cfg: map[string]*configs.Config{}, conn: map[string]*zk.Conn{}, daemons: map[string]*daemon{},
		logger: testLogger(t), dir: t.TempDir(),
	}
	servers := map[string]int{"east": max(1, layout.eastZK), "west": max(1, layout.westZK)}
	for _, s := range []string{"east", "west"} {
		p.zk[s] = zkserver.StartT(t, zkserver.Config{Servers: servers[s], SuperDigest: superAuth, ExtendedTypes: true})
	}
	urls := map[string][]string{}
	var cluster *natsserver.Cluster
	if layout.eastNATSCluster {
		cluster = natsserver.StartClusterT(t, natsserver.ClusterConfig{Server: natsserver.Config{Site: "east", SyncAlways: true}})
		p.nats["east"] = cluster.Server(0)
		urls["east"] = cluster.ClientURLs()
		remote := cluster.LeafRemote()
		p.nats["west"] = natsserver.StartT(t, natsserver.Config{Site: "west", SyncAlways: true,
			LeafPort: natsserver.NoLeafListener, LeafReconnect: 250 * time.Millisecond,
			Configure: func(o *server.Options) { o.LeafNode.Remotes = []*server.RemoteLeafOpts{remote} }})
	} else {
		p.nats["east"] = natsserver.StartT(t, natsserver.Config{Site: "east", SyncAlways: true})
		urls["east"] = []string{p.nats["east"].ClientURL()}
		link, err := faultproxy.New(p.nats["east"].LeafAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { link.Close() })
		p.link = link
		p.nats["west"] = natsserver.StartT(t, natsserver.Config{Site: "west", SyncAlways: true,
			LeafPort: natsserver.NoLeafListener, LeafRemotes: []string{"nats-leaf://" + link.Addr()}, LeafReconnect: 250 * time.Millisecond})
	}
	urls["west"] = []string{p.nats["west"].ClientURL()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.nats["west"].WaitDomain(ctx, "east"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"east", "west"} {
		peer := map[string]string{"east": "west", "west": "east"}[s]
		cfg := configs.Default()
		cfg.Site = s
		cfg.InitialRole = map[string]configs.Role{"east": configs.RoleActive, "west": configs.RoleStandby}[s]
		cfg.ZooKeeper.Servers = p.zk[s].Servers()
		cfg.ZooKeeper.Auth = configs.NewSecret(superAuth)
		cfg.NATS.URLs = urls[s]
		cfg.NATS.Domain = s
		cfg.Peer.Name = peer
		cfg.Peer.ZooKeeper.Servers = p.zk[peer].Servers()
		cfg.Peer.ZooKeeper.Auth = configs.NewSecret(superAuth)
		cfg.Peer.ZooKeeper.SessionTimeout = cfg.ZooKeeper.SessionTimeout
		cfg.Peer.NATS.Domain = peer
		cfg.Metrics.Listen = ""
		cfg.Source.HeartbeatInterval = 250 * time.Millisecond
		cfg.Log.Level = "debug"
		if tune != nil {
			tune(s, cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s config: %v", s, err)
		}
		p.cfg[s] = cfg
		p.conn[s] = dial(t, p.zk[s].Servers())
	}
	return p, cluster
}

// killLeader kill -9s the leader of a three-server ensemble and returns its
// index and when it died.
func killLeader(t *testing.T, c *zkserver.Cluster) (int, time.Time) {
	t.Helper()
	leader, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	return leader, time.Now()
}

// Scenario: the active site's three-server ensemble loses its leader (kill -9)
// while the source watches it under writes. The source carries on (its session
// moves to another server, or it re-walks if the session expired), its
// heartbeats resume, and nothing is lost.
func TestPrimaryEnsembleLeaderLoss(t *testing.T) {
	p, _ := newLayoutPair(t, siteLayout{eastZK: 3}, nil)
	west := p.conn["west"]
	de := p.start("east")
	p.start("west")
	l := startFaultLoad(t, p, "/zkleader")
	waitFor(t, 2*time.Minute, "west to apply the load", func() bool { return readCheckpoint(t, west).Seq > 50 })
	l.waitWrites(t, 50, "before the kill")

	killed, at := killLeader(t, p.zk["east"])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.zk["east"].WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	elected := time.Since(at)
	waitFor(t, 2*time.Minute, "a heartbeat of the source after the kill", func() bool {
		st := de.d.Status()
		return st.Source != nil && st.Source.LastHeartbeatTime.After(at)
	})
	heartbeat := time.Since(at)
	l.waitWrites(t, 100, "after the kill")
	writes := time.Since(at)
	rep := p.verifyLoad(l)
	assertContiguous(t, p.nats["east"].ClientURL(), journal.StreamName("east"))
	st := de.d.Status()
	if st.Source == nil || st.LastErr != "" {
		t.Fatalf("east's source is not running: %+v", st)
	}
	t.Logf("scenario 6: killed server %d (leader); new leader after %s, source heartbeat after %s, 100 more creates after %s; "+
		"source session expiries %d, walks %d; %s",
		killed, elected.Round(time.Millisecond), heartbeat.Round(time.Millisecond), writes.Round(time.Millisecond),
		st.Source.SessionExpiries, st.Source.Walks, rep)
}

// Scenario: the standby's three-server ensemble loses its leader (kill -9)
// while the applier writes batches into it. The applier carries on and
// converges, and its checkpoint (written in the same Multi as each batch)
// keeps any batch from being applied twice.
func TestStandbyEnsembleLeaderLoss(t *testing.T) {
	p, _ := newLayoutPair(t, siteLayout{westZK: 3}, nil)
	west := p.conn["west"]
	p.start("east")
	dw := p.start("west")
	l := startFaultLoad(t, p, "/zkleader")
	waitFor(t, 2*time.Minute, "west to apply the load", func() bool { return readCheckpoint(t, west).Seq > 50 })
	l.waitWrites(t, 50, "before the kill")

	before := readCheckpoint(t, west).Seq
	killed, at := killLeader(t, p.zk["west"])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.zk["west"].WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	elected := time.Since(at)
	var after uint64
	waitFor(t, 2*time.Minute, "the applier to apply after the kill", func() bool {
		cp, ok := tryCheckpoint(west)
		after = cp.Seq
		return ok && cp.Seq > before+20
	})
	resumed := time.Since(at)
	l.waitWrites(t, 100, "after the kill")
	rep := p.verifyLoad(l)
	st := dw.d.Status()
	if st.Applier == nil || st.LastErr != "" {
		t.Fatalf("west's applier is not running: %+v", st)
	}
	t.Logf("scenario 7: killed server %d (leader) at checkpoint %d; new leader after %s, checkpoint %d after %s; "+
		"applier batches %d, redone %d, op by op %d; %s",
		killed, before, elected.Round(time.Millisecond), after, resumed.Round(time.Millisecond),
		st.Applier.Batches, st.Applier.Redone, st.Applier.OpByOp, rep)
}

// tryCheckpoint reads the standby's checkpoint, or fails quietly (the
// standby's ensemble may be electing a leader).
func tryCheckpoint(c *zk.Conn) (applier.Checkpoint, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cp, err := applier.ReadCheckpoint(ctx, c)
	return cp, err == nil
}

// Scenario: the active site's NATS is a three-server JetStream cluster and the
// journal is replicated (journal.replicas = 3); west mirrors it over a
// leafnode that lists all three servers. The server leading the journal stream
// goes away during writes: a new leader takes over, the source's appends go on
// (its connection moves to another server), the mirror follows, and nothing
// acknowledged is lost.
func TestReplicatedJournalServerLoss(t *testing.T) {
	p, cluster := newLayoutPair(t, siteLayout{eastNATSCluster: true}, func(site string, c *configs.Config) {
		if site == "east" {
			c.Journal.Replicas = 3
		}
	})
	west := p.conn["west"]
	stream := journal.StreamName("east")
	de := p.start("east")
	p.start("west")
	l := startFaultLoad(t, p, "/r3")
	waitFor(t, 2*time.Minute, "west to apply the load", func() bool { return readCheckpoint(t, west).Seq > 50 })
	l.waitWrites(t, 50, "before the loss")

	leader := -1
	waitFor(t, time.Minute, "the journal stream's leader", func() bool { leader = cluster.StreamLeader(stream); return leader >= 0 })
	replicas := streamReplicas(t, cluster.Server((leader+1)%cluster.Size()).ClientURL(), stream)
	if replicas != 3 {
		t.Fatalf("the journal stream has %d replicas, want 3", replicas)
	}
	survivor := cluster.Server((leader + 1) % cluster.Size()).ClientURL()
	before := journalLast(survivor, stream)
	published := de.d.Status().Source.EventsPublished
	at := time.Now()
	cluster.Stop(leader)
	waitFor(t, 2*time.Minute, "a new leader of the journal stream", func() bool {
		l := cluster.StreamLeader(stream)
		return l >= 0 && l != leader
	})
	elected := time.Since(at)
	waitFor(t, 2*time.Minute, "appends to resume", func() bool { return journalLast(survivor, stream) > before+20 })
	resumed := time.Since(at)
	l.waitWrites(t, 100, "after the loss")
	rep := p.verifyLoad(l)
	assertContiguous(t, survivor, stream)
	st := de.d.Status()
	if st.Source == nil || st.LastErr != "" || st.Source.EventsPublished <= published {
		t.Fatalf("east's source is not publishing after the loss: %+v", st)
	}
	t.Logf("scenario 8: stopped %s (stream leader) at journal sequence %d; new leader after %s, appends resumed after %s; %s",
		cluster.Server(leader).Domain()+fmt.Sprintf("-%d", leader+1), before, elected.Round(time.Millisecond), resumed.Round(time.Millisecond), rep)
}

// streamReplicas is the replication factor of stream as seen from url.
func streamReplicas(t *testing.T, url, stream string) int {
	t.Helper()
	return streamInfo(t, url, stream).Config.Replicas
}
