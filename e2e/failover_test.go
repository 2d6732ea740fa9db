package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/failover/client"
	sitedaemon "github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/failover/site"
)

// ackedWrite is one create a client saw succeed, and when.
type ackedWrite struct {
	path string
	data []byte
	at   time.Time
}

// loadWriter creates prefix/w-N nodes one after the other through conn, retrying
// each until it is acknowledged, and remembers every acknowledgement.
type loadWriter struct {
	mu     sync.Mutex
	acked  []ackedWrite
	maxGap time.Duration // longest time between two acknowledgements
	stopCh chan struct{}
	done   chan struct{}
}

func startWriter(conn *zk.Conn, prefix string, every time.Duration) *loadWriter {
	w := &loadWriter{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		last := time.Now()
		for i := 1; ; i++ {
			p := fmt.Sprintf("%s/w-%07d", prefix, i)
			data := []byte(p)
			for {
				select {
				case <-w.stopCh:
					return
				default:
				}
				_, err := conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
				if err == nil || errors.Is(err, zk.ErrNodeExists) {
					// Unique paths: an existing node is this write, done by an
					// attempt whose answer was lost.
					now := time.Now()
					w.mu.Lock()
					w.acked = append(w.acked, ackedWrite{path: p, data: data, at: now})
					w.maxGap = max(w.maxGap, now.Sub(last))
					w.mu.Unlock()
					last = now
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			select {
			case <-w.stopCh:
				return
			case <-time.After(every):
			}
		}
	}()
	return w
}

func (w *loadWriter) stop() {
	select {
	case <-w.stopCh:
	default:
		close(w.stopCh)
	}
	<-w.done
}

func (w *loadWriter) snapshot() ([]ackedWrite, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ackedWrite(nil), w.acked...), w.maxGap
}

func (w *loadWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *loadWriter) resetGap() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxGap = 0
}

// failoverClient is a go-zookeeper client that follows the active site.
func (p *pair) failoverClient() *zk.Conn {
	p.t.Helper()
	cfg := client.DefaultClientConfig()
	cfg.Sites = []client.Site{{Name: "east", Servers: p.zk["east"].Servers()}, {Name: "west", Servers: p.zk["west"].Servers()}}
	cfg.SessionTimeout = 6 * time.Second
	cfg.Logger = p.logger.Named("client")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, _, err := client.Connect(ctx, cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(conn.Close)
	return conn
}

// missingOn returns the acknowledged writes that conn's ensemble does not hold
// with their data.
func missingOn(t *testing.T, conn *zk.Conn, writes []ackedWrite) []ackedWrite {
	t.Helper()
	var out []ackedWrite
	for _, w := range writes {
		data, _, err := conn.Get(w.path)
		if errors.Is(err, zk.ErrNoNode) || (err == nil && string(data) != string(w.data)) {
			out = append(out, w)
			continue
		}
		if err != nil {
			t.Fatalf("read %s: %v", w.path, err)
		}
	}
	return out
}

func (p *pair) record(name string) site.Record {
	p.t.Helper()
	rec, _, err := site.ReadRecord(context.Background(), p.conn[name])
	if err != nil {
		p.t.Fatalf("read %s record: %v", name, err)
	}
	return rec
}

func (p *pair) waitRecord(name string, role site.Role, epoch uint64) {
	p.t.Helper()
	waitFor(p.t, 2*time.Minute, fmt.Sprintf("%s %s at epoch %d", name, role, epoch), func() bool {
		rec, _, err := site.ReadRecord(context.Background(), p.conn[name])
		return err == nil && rec.Role == role && rec.Epoch == epoch
	})
}

func (p *pair) waitApplying(site string) {
	p.t.Helper()
	waitFor(p.t, 2*time.Minute, site+" applied a heartbeat", func() bool {
		return readCheckpoint(p.t, p.conn[site]).WatermarkZxid > 0
	})
}

// startUnderLoad starts a pair with seed nodes under /seed, both daemons in
// this process, and a client that follows the active site creating /load
// nodes every interval; it returns once west applies and the client has
// written writes nodes. The writer stops at the end of the test.
func startUnderLoad(t *testing.T, seed int, every time.Duration, writes int) (*pair, *loadWriter) {
	t.Helper()
	p := newPair(t)
	mustCreate(t, p.conn["east"], "/load", nil, 0, nil)
	seedTree(t, p.conn["east"], "/seed", seed)
	p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)
	p.waitApplying("west")

	w := startWriter(p.failoverClient(), "/load", every)
	t.Cleanup(w.stop)
	waitFor(t, time.Minute, fmt.Sprintf("%d writes through the client", writes), func() bool { return w.count() >= writes })
	return p, w
}

// TestSwitchoverUnderLoad drills a planned switchover east -> west while a
// client that follows the active site writes steadily, then back to east.
func TestSwitchoverUnderLoad(t *testing.T) {
	p, w := startUnderLoad(t, 50, 10*time.Millisecond, 50)

	drill := func(cfgSite, from, to string, epoch uint64) {
		t.Helper()
		// The preflight alone changes nothing.
		out, err := p.zkdr("switchover", "--config", p.configFile(cfgSite), "--dry-run", "--json")
		if err != nil {
			t.Fatalf("dry run: %v\n%s", err, out)
		}
		if r := p.record(from); r.Role != site.RoleActive {
			t.Fatalf("dry run changed %s: %+v", from, r)
		}

		before := w.count()
		w.resetGap()
		opts := failover.DefaultSwitchoverOptions()
		opts.Logger = p.logger
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		rep, err := failover.Switchover(ctx, sitedaemon.SwitchoverConfig(p.cfg[cfgSite]), opts)
		if err != nil {
			t.Fatalf("switchover %s -> %s: %v (report %+v)", from, to, err, rep)
		}
		js, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("switchover report:\n%s", js)
		if rep.From != from || rep.To != to || rep.Epoch != epoch {
			t.Fatalf("switchover went %s -> %s at epoch %d, want %s -> %s at %d", rep.From, rep.To, rep.Epoch, from, to, epoch)
		}
		if rep.RPO != 0 || rep.FlushedZxid < rep.FenceZxid {
			t.Fatalf("RPO %s, flushed %#x, fence %#x", rep.RPO, rep.FlushedZxid, rep.FenceZxid)
		}
		if !rep.Verified || rep.WriteUnavailable <= 0 {
			t.Fatalf("verified %t, write-unavailable %s", rep.Verified, rep.WriteUnavailable)
		}
		p.waitRecord(to, site.RoleActive, epoch)
		p.waitRecord(from, site.RoleStandby, epoch)

		// The client keeps writing, now on the new active site.
		waitFor(t, 2*time.Minute, "writes after the drill", func() bool { return w.count() >= before+50 })
		acked, gap := w.snapshot()
		// Independent RPO check: every write acknowledged so far, by either
		// site, is on the new active site.
		if miss := missingOn(t, p.conn[to], acked); len(miss) > 0 {
			t.Fatalf("%d acknowledged writes are not on %s, first %s acknowledged at %s", len(miss), to, miss[0].path, miss[0].at)
		}
		t.Logf("switchover %s -> %s: write-unavailable window %s (report), longest gap between client acknowledgements %s, took %s",
			from, to, rep.WriteUnavailable, gap, rep.Took)
	}

	// An unplanned promotion is refused while the peer is reachable and active.
	if out, logs, err := runZkdr("promote", "--config", p.configFile("west")); err == nil || !strings.Contains(logs, "switchover") {
		t.Fatalf("promote with east active: err %v\n%s\n%s", err, out, tail(logs, 2000))
	}
	if r := p.record("west"); r.Role != site.RoleStandby {
		t.Fatalf("a refused promote changed west: %+v", r)
	}

	drill("east", "east", "west", 2)
	drill("west", "west", "east", 3)

	w.stop()
	p.waitConverged(3 * time.Minute)
}

// TestPromoteAfterSiteLoss kills the whole east site during writes, promotes
// west, checks the report's watermark against what was really lost, and brings
// east back: it is fenced, rejoins as standby with its divergent writes in the
// divergence report, and the trees end equal.
func TestPromoteAfterSiteLoss(t *testing.T) {
	p, w := startUnderLoad(t, 30, 5*time.Millisecond, 200)

	// The link between the sites fails first, so east takes writes that never
	// leave it: new nodes and a changed one.
	p.link.Cut()
	var diverged []ackedWrite
	mustCreate(t, p.conn["east"], "/diverged", []byte("d"), 0, nil)
	for i := range 20 {
		path := fmt.Sprintf("/diverged/d-%02d", i)
		mustCreate(t, p.conn["east"], path, []byte(path), 0, nil)
		diverged = append(diverged, ackedWrite{path: path, data: []byte(path), at: time.Now()})
	}
	if _, err := p.conn["east"].Set("/seed/plain", []byte("changed on east only"), -1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a few more client writes on east alone

	// The east datacenter goes away: ZooKeeper, NATS and the daemon.
	if err := p.zk["east"].Kill(0); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	p.nats["east"].Shutdown()
	p.daemons["east"].stop()
	ackedBefore, _ := w.snapshot()
	t.Logf("east killed after %d acknowledged writes", len(ackedBefore))

	out, logs, err := runZkdr("promote", "--config", p.configFile("west"), "--json")
	if err != nil {
		t.Fatalf("promote: %v\n%s\n%s", err, out, tail(logs, 8000))
	}
	var rep failover.PromoteReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("promote report: %v\n%s", err, out)
	}
	t.Logf("promote report:\n%s", out)
	if rep.Epoch != 2 || rep.PeerReachable || !rep.SourceStarted {
		t.Fatalf("promote: epoch %d, peer reachable %t, source started %t", rep.Epoch, rep.PeerReachable, rep.SourceStarted)
	}
	p.waitRecord("west", site.RoleActive, 2)

	// Every write east acknowledged before the watermark time is on west; what
	// is missing was acknowledged after it.
	if miss := missingOn(t, p.conn["west"], diverged); len(miss) != len(diverged) {
		t.Fatalf("%d of the %d writes made on east alone reached west", len(diverged)-len(miss), len(diverged))
	}
	lost := append(missingOn(t, p.conn["west"], ackedBefore), diverged...)
	slices.SortFunc(lost, func(a, b ackedWrite) int { return a.at.Compare(b.at) })
	for _, l := range lost {
		if !l.at.After(rep.LastAppliedTime) {
			t.Fatalf("%s was acknowledged at %s, before the watermark time %s, and is not on west", l.path, l.at, rep.LastAppliedTime)
		}
	}
	var lostSpan time.Duration
	if len(lost) > 0 {
		lostSpan = lost[len(lost)-1].at.Sub(rep.LastAppliedTime)
	}
	t.Logf("lost %d of %d acknowledged writes; they span %s after the watermark; reported window %s; kill was %s after the watermark; promote took %s",
		len(lost), len(ackedBefore), lostSpan, rep.DataLossWindow, killedAt.Sub(rep.LastAppliedTime), rep.Took)

	// The client follows west and keeps writing there.
	n := w.count()
	waitFor(t, 2*time.Minute, "writes on west after the promotion", func() bool { return w.count() >= n+50 })
	acked, _ := w.snapshot()
	if miss := missingOn(t, p.conn["west"], acked[len(ackedBefore):]); len(miss) > 0 {
		t.Fatalf("%d writes acknowledged after the loss are not on west, first %s", len(miss), miss[0].path)
	}

	// East comes back with its own writes; it must be fenced and rejoin.
	east := p.rejoinAfterLoss("east", 2)
	var res *failover.RejoinResult
	waitFor(t, time.Minute, "rejoin result", func() bool { res = east.d.Status().LastRejoin; return res != nil })
	t.Logf("rejoin: %+v", *res)
	nodes, err := failover.ReadDivergenceReport(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	inReport := map[string]failover.DivergentNode{}
	for _, n := range nodes {
		inReport[n.Path] = n
	}
	for _, l := range lost {
		n, ok := inReport[l.path]
		if !ok {
			t.Fatalf("lost write %s is not in the divergence report %s (%d nodes)", l.path, res.Report, len(nodes))
		}
		if string(n.Data) != string(l.data) || n.ReplacedBy != failover.ReplacedByDeleted {
			t.Fatalf("divergence report entry %+v for %s", n, l.path)
		}
	}
	if n, ok := inReport["/seed/plain"]; !ok || n.ReplacedBy != failover.ReplacedByData || string(n.Data) != "changed on east only" {
		t.Fatalf("the node changed on east alone is not reported as replaced: %+v", n)
	}
	t.Logf("divergence report %s holds %d nodes, including all %d lost writes", res.Report, len(nodes), len(lost))

	w.stop()
	p.waitConverged(3 * time.Minute)
}

// startWithDivergenceDir runs a site's daemon in this process (p.start) with
// its divergence reports in dir, through the environment variable the daemon
// reads when no directory was set, so the fixture's start serves unchanged.
// t.Setenv restores it when the test ends (and refuses parallel tests).
// rejoinAfterLoss brings a lost site back (its ZooKeeper and NATS restarted
// with their data, the link healed), starts its daemon with divergence reports
// in a temporary directory, and waits until it rejoined as standby at epoch.
func (p *pair) rejoinAfterLoss(name string, epoch uint64) *daemon {
	p.t.Helper()
	if err := p.zk[name].Restart(0); err != nil {
		p.t.Fatal(err)
	}
	if err := p.nats[name].Restart(); err != nil {
		p.t.Fatal(err)
	}
	p.link.Heal()
	p.conn[name] = dial(p.t, p.zk[name].Servers())
	dm := p.startWithDivergenceDir(name, p.t.TempDir())
	p.waitRecord(name, site.RoleStandby, epoch)
	return dm
}

func (p *pair) startWithDivergenceDir(site, dir string) *daemon {
	p.t.Helper()
	p.t.Setenv(sitedaemon.DivergenceDirEnv, dir)
	return p.start(site)
}

// runZkdr runs the zkdr binary and returns its stdout and stderr apart.
func runZkdr(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, zkdrBin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}
