package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/configs"
	sitedaemon "github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/internal/faultproxy"
	"github.com/zkdr/zkdr/internal/natsserver"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

// superAuth is the standby's superDigest identity; the applier writes with it.
const superAuth = "super:e2e-secret"

var zkdrBin string // built once by TestMain for the tests that kill -9 a daemon

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zkdr-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zkdrBin = filepath.Join(dir, "zkdr")
	build := exec.Command("go", "build", "-o", zkdrBin, "../cmd/zkdr")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build zkdr:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pair is two real sites: east (active) and west (standby), each with its own
// ZooKeeper process and embedded NATS JetStream in its own domain; west's
// leafnode reaches east through a fault proxy.
type pair struct {
	t       *testing.T
	zk      map[string]*zkserver.Cluster
	nats    map[string]*natsserver.Server
	link    *faultproxy.Proxy // west's leafnode connection to east
	cfg     map[string]*configs.Config
	conn    map[string]*zk.Conn // super-authenticated clients
	daemons map[string]*daemon
	logger  hclog.Logger
	dir     string
}

type pairOption func(*pairOptions)

type pairOptions struct {
	zkServers int
	zkProps   map[string]string
	// plainZK lists the sites whose ZooKeeper refuses TTL and container
	// creates (zookeeper.extendedTypesEnabled off, the server's default).
	plainZK  map[string]bool
	tune     func(site string, c *configs.Config)
	natsTune func(site string, c *natsserver.Config)
}

// withNATS adjusts each site's NATS server before it starts (TLS, users,
// encryption at rest...).
func withNATS(f func(site string, c *natsserver.Config)) pairOption {
	return func(o *pairOptions) { o.natsTune = f }
}

// withZKProps passes Java system properties to both sites' ZooKeeper servers.
func withZKProps(props map[string]string) pairOption {
	return func(o *pairOptions) { o.zkProps = props }
}

// withPlainZK starts site's ZooKeeper without extended types.
func withPlainZK(site string) pairOption {
	return func(o *pairOptions) {
		if o.plainZK == nil {
			o.plainZK = map[string]bool{}
		}
		o.plainZK[site] = true
	}
}

// withConfig adjusts each site's config; several apply in order.
func withConfig(f func(site string, c *configs.Config)) pairOption {
	return func(o *pairOptions) {
		prev := o.tune
		o.tune = func(site string, c *configs.Config) {
			if prev != nil {
				prev(site, c)
			}
			f(site, c)
		}
	}
}

func newPair(t *testing.T, opts ...pairOption) *pair {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts ZooKeeper and NATS")
	}
	o := pairOptions{zkServers: 1}
	for _, f := range opts {
		f(&o)
	}
	p := &pair{
		t: t, zk: map[string]*zkserver.Cluster{}, nats: map[string]*natsserver.Server{},
		cfg: map[string]*configs.Config{}, conn: map[string]*zk.Conn{}, daemons: map[string]*daemon{},
		logger: testLogger(t), dir: t.TempDir(),
	}
	for _, s := range []string{"east", "west"} {
		p.zk[s] = zkserver.StartT(t, zkserver.Config{Servers: o.zkServers, SuperDigest: superAuth, ExtendedTypes: !o.plainZK[s], JavaProps: o.zkProps})
	}
	startNATS := func(c natsserver.Config) *natsserver.Server {
		if o.natsTune != nil {
			o.natsTune(c.Site, &c)
		}
		return natsserver.StartT(t, c)
	}
	p.nats["east"] = startNATS(natsserver.Config{Site: "east", SyncAlways: true})
	link, err := faultproxy.New(p.nats["east"].LeafAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	p.link = link
	p.nats["west"] = startNATS(natsserver.Config{Site: "west", SyncAlways: true,
		LeafPort: natsserver.NoLeafListener, LeafRemotes: []string{"nats-leaf://" + link.Addr()}, LeafReconnect: 250 * time.Millisecond})
	waitFor(t, 60*time.Second, "leafnode link up", p.nats["west"].LeafConnected)
	for _, s := range []string{"east", "west"} {
		peer := map[string]string{"east": "west", "west": "east"}[s]
		cfg := configs.Default()
		cfg.Site = s
		cfg.InitialRole = map[string]configs.Role{"east": configs.RoleActive, "west": configs.RoleStandby}[s]
		cfg.ZooKeeper.Servers = p.zk[s].Servers()
		cfg.ZooKeeper.Auth = configs.NewSecret(superAuth)
		cfg.NATS.URLs = []string{p.nats[s].ClientURL()}
		cfg.NATS.Domain = s
		cfg.Peer.Name = peer
		cfg.Peer.ZooKeeper.Servers = p.zk[peer].Servers()
		cfg.Peer.ZooKeeper.Auth = configs.NewSecret(superAuth)
		cfg.Peer.ZooKeeper.SessionTimeout = cfg.ZooKeeper.SessionTimeout
		cfg.Peer.NATS.Domain = peer
		cfg.Metrics.Listen = ""
		cfg.Source.HeartbeatInterval = 250 * time.Millisecond
		cfg.Log.Level = "debug"
		if o.tune != nil {
			o.tune(s, cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s config: %v", s, err)
		}
		p.cfg[s] = cfg
		p.conn[s] = dial(t, p.zk[s].Servers())
	}
	return p
}

// daemon is one running site daemon, in-process or a real process.
type daemon struct {
	stop func() // graceful
	kill func() // kill -9 for processes; same as stop in-process
	d    *sitedaemon.Daemon
	pid  int // for processes
	done chan struct{}
	err  error
}

// start runs a site's daemon in this process.
func (p *pair) start(site string) *daemon {
	p.t.Helper()
	d, err := sitedaemon.NewDaemon(p.cfg[site], p.logger.Named(site))
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dm := &daemon{d: d, done: make(chan struct{})}
	go func() {
		defer close(dm.done)
		dm.err = d.Run(ctx)
	}()
	var once sync.Once
	dm.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-dm.done:
			case <-time.After(60 * time.Second):
				p.t.Errorf("%s daemon did not stop within 60s; its goroutines:\n%s", site, goroutines())
			}
		})
	}
	dm.kill = dm.stop
	p.daemons[site] = dm
	p.t.Cleanup(dm.stop)
	return dm
}

// startProcess runs a site's daemon as a real zkdr process with an HCL config file.
func (p *pair) startProcess(site string) *daemon {
	p.t.Helper()
	cfgPath := p.configFile(site)
	logPath := filepath.Join(p.dir, fmt.Sprintf("%s-%d.log", site, time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(zkdrBin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	dm := &daemon{done: make(chan struct{}), pid: cmd.Process.Pid}
	go func() {
		defer close(dm.done)
		dm.err = cmd.Wait()
		logFile.Close()
	}()
	signal := func(sig syscall.Signal) {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
		select {
		case <-dm.done:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-dm.done
		}
	}
	dm.stop = func() { signal(syscall.SIGTERM) }
	dm.kill = func() { signal(syscall.SIGKILL) }
	p.daemons[site] = dm
	p.t.Cleanup(func() {
		dm.stop()
		if p.t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				p.t.Logf("%s daemon log (%s):\n%s", site, logPath, tail(string(b), 8000))
			}
		}
	})
	return dm
}

// configFile writes a site's config as an HCL file and returns its path.
func (p *pair) configFile(site string) string {
	p.t.Helper()
	path := filepath.Join(p.dir, site+".hcl")
	if err := os.WriteFile(path, []byte(hclFor(p.cfg[site])), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// zkdr runs the zkdr binary with args and returns its combined output.
func (p *pair) zkdr(args ...string) (string, error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, zkdrBin, args...).CombinedOutput()
	return string(out), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// hclFor writes a config as HCL, the way an operator would.
func hclFor(c *configs.Config) string {
	q := func(list []string) string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	return fmt.Sprintf(`site = %q
initial_role = %q
zookeeper {
  servers = %s
  session_timeout = %q
  auth = env("ZKDR_E2E_AUTH")
}
nats {
  url = %q
  domain = %q
%s}
peer %q {
  zookeeper {
    servers = %s
    auth    = env("ZKDR_E2E_AUTH")
  }
  nats { domain = %q }
}
journal {
  max_msgs = %d
}
source {
  heartbeat_interval    = %q
  snapshot_interval     = %q
  snapshot_every_events = %d
}
applier {
  delete_guard_share = %g
  delete_guard_min_nodes = %d
  delete_guard_window = %q
}
ha { election = %t }
metrics { listen = %q }
log { level = "debug" }
`, c.Site, c.InitialRole, q(c.ZooKeeper.Servers), c.ZooKeeper.SessionTimeout, c.NATS.URL(), c.NATS.Domain, natsAuthHCL(c.NATS),
		c.Peer.Name, q(c.Peer.ZooKeeper.Servers), c.Peer.NATS.Domain, c.Journal.MaxMsgs, c.Source.HeartbeatInterval,
		c.Source.SnapshotInterval, c.Source.SnapshotEveryEvents,
		c.Applier.DeleteGuardShare, c.Applier.DeleteGuardMinNodes, c.Applier.DeleteGuardWindow, c.HA.Election, c.Metrics.Listen)
}

// natsAuthHCL writes a nats block's credentials and TLS files; the password
// and token come from the environment variables ZKDR_E2E_NATS_PASSWORD and
// ZKDR_E2E_NATS_TOKEN, which the test sets.
func natsAuthHCL(n configs.NATS) string {
	var b strings.Builder
	if n.Creds != "" {
		fmt.Fprintf(&b, "  creds = %q\n", n.Creds)
	}
	if n.User != "" {
		fmt.Fprintf(&b, "  user = %q\n  password = env(\"ZKDR_E2E_NATS_PASSWORD\")\n", n.User)
	}
	if n.Token.IsSet() {
		b.WriteString("  token = env(\"ZKDR_E2E_NATS_TOKEN\")\n")
	}
	if n.TLS.Enabled() {
		b.WriteString("  tls {\n")
		for _, f := range [][2]string{{"ca_file", n.TLS.CAFile}, {"cert_file", n.TLS.CertFile}, {"key_file", n.TLS.KeyFile}} {
			if f[1] != "" {
				fmt.Fprintf(&b, "    %s = %q\n", f[0], f[1])
			}
		}
		b.WriteString("  }\n")
	}
	return b.String()
}

func init() {
	// The daemons started as processes read the digest credentials from the
	// environment, as production configs do.
	os.Setenv("ZKDR_E2E_AUTH", superAuth)
}

// waitConverged polls until west equals east, as seen by an independent walk.
func (p *pair) waitConverged(timeout time.Duration) {
	p.t.Helper()
	var diff []zktree.Difference
	var walkErr error
	ok := poll(timeout, func() bool {
		a, err := zktree.Walk(context.Background(), p.conn["east"], "/", zktree.Options{})
		if err != nil {
			walkErr = err
			return false
		}
		b, err := zktree.Walk(context.Background(), p.conn["west"], "/", zktree.Options{})
		if err != nil {
			walkErr = err
			return false
		}
		diff, walkErr = zktree.Diff(a, b), nil
		return len(diff) == 0
	})
	if !ok {
		if len(diff) > 20 {
			diff = diff[:20]
		}
		for _, d := range diff[:min(3, len(diff))] {
			p.dumpHistory(d.Path)
		}
		p.t.Fatalf("west did not converge with east within %s (walk error: %v); first differences: %v", timeout, walkErr, diff)
	}
}

func dial(t *testing.T, servers []string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(servers, 15*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := conn.AddAuth("digest", []byte(superAuth)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "zookeeper session", func() bool { return conn.State() == zk.StateHasSession })
	return conn
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// poll checks cond every 100ms until it holds or timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// testLogger sends logs to t.Log until the test's cleanups have run; lines
// from goroutines that outlive the test are dropped instead of panicking.
func testLogger(t *testing.T) hclog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return hclog.New(&hclog.LoggerOptions{Name: "zkdr", Level: hclog.Debug, Output: w})
}

type tWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

// mustCreate creates a node (and nothing else) and fails the test on error.
func mustCreate(t *testing.T, c *zk.Conn, p string, data []byte, flags int32, acl []zk.ACL) string {
	t.Helper()
	if acl == nil {
		acl = zk.WorldACL(zk.PermAll)
	}
	name, err := c.Create(p, data, flags, acl)
	if err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	return name
}

// readCheckpoint reads the standby's applier checkpoint; zero before the first.
func readCheckpoint(t *testing.T, c *zk.Conn) applier.Checkpoint {
	t.Helper()
	cp, err := applier.ReadCheckpoint(context.Background(), c)
	if err != nil && !errors.Is(err, applier.ErrNoCheckpoint) {
		t.Fatalf("read checkpoint: %v", err)
	}
	return cp
}

// dumpHistory logs a path's state on both sites and every journal event about
// it, to explain a divergence.
func (p *pair) dumpHistory(path string) {
	for _, s := range []string{"east", "west"} {
		data, st, err := p.conn[s].Get(path)
		if err != nil {
			p.t.Logf("%s %s: %v", s, path, err)
			continue
		}
		p.t.Logf("%s %s: data %q mzxid 0x%x version %d", s, path, data, st.Mzxid, st.Version)
	}
	readJournal(p.t, p.nats["west"].ClientURL(), journal.StreamName("east"), func(m journal.Message) {
		for _, ev := range m.Events {
			if ev.Path == path || strings.HasPrefix(path, ev.Path+"/") || ev.Kind == journal.KindSnapshotBegin || ev.Kind == journal.KindSnapshotEnd {
				p.t.Logf("seq %d writer %s: %s %s data %q zxid 0x%x mzxid 0x%x czxid 0x%x", m.Seq, m.Writer, ev.Kind, ev.Path, ev.Data, ev.Zxid, ev.Stat.Mzxid, ev.Stat.Czxid)
			}
		}
	})
}

// goroutines is every goroutine's stack, for a test that found something stuck.
func goroutines() string {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}
