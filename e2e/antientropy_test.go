package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/configs"
	sitedaemon "github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/replicator/source"
)

// The standby daemon's anti-entropy reports no divergence while both trees
// move under writes; under the same writes it reports exactly what the
// journal cannot carry (a write, a create and a delete made directly on the
// standby, an ACL changed on the active site with the source's ACL recheck
// off), in its metrics and in zkdr status; and it reports nothing again once
// a fresh snapshot of the active site has repaired the standby.
func TestAntiEntropy(t *testing.T) {
	metricsAddr := freeAddr(t)
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.AntiEntropy.Interval = time.Second
		c.AntiEntropy.ReadsPerSecond = 2000
		c.Source.ACLRecheckInterval = 0
		// Only the snapshot the test asks for may repair the standby.
		c.Source.SnapshotInterval, c.Source.SnapshotEveryEvents = 0, 0
	}))
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/ae", []byte("root"), 0, nil)
	for i := range 20 {
		mustCreate(t, east, fmt.Sprintf("/ae/k%d", i), []byte(fmt.Sprint(i)), 0, nil)
	}
	mustCreate(t, east, "/ae/load", nil, 0, nil)
	p.start("east")
	w := p.start("west")
	mctx, stopMetrics := context.WithCancel(context.Background())
	t.Cleanup(stopMetrics)
	go func() { _ = w.d.ServeMetrics(mctx, metricsAddr) }()
	p.waitConverged(2 * time.Minute)

	// nextPass waits for a pass that ends after since and returns its report.
	nextPass := func(what string, since time.Time) sitedaemon.AntiEntropyReport {
		t.Helper()
		var last sitedaemon.AntiEntropyReport
		waitFor(t, time.Minute, what, func() bool {
			st, ok := w.d.AntiEntropyStatus()
			if ok && st.Last != nil && st.Last.Finished.After(since) {
				last = *st.Last
				return true
			}
			return false
		})
		return last
	}

	// 1. A light write load: sets, creates, deletes and ephemerals. No pass may
	// report a divergence.
	stopLoad := startAELoad(t, east)
	seen, since := 0, time.Now()
	for seen < 4 {
		rep := nextPass("an anti-entropy pass under writes", since)
		if rep.Divergent != 0 {
			stopLoad()
			t.Fatalf("pass under writes reported divergence on equal trees: %+v", rep)
		}
		if rep.NodesCompared < 22 {
			t.Fatalf("pass compared %d nodes, want at least the 22 of /ae: %+v", rep.NodesCompared, rep)
		}
		seen, since = seen+1, rep.Finished
		t.Logf("pass under writes: %d nodes compared, %d unsettled, took %s", rep.NodesCompared, rep.Unsettled, rep.Duration())
	}
	st, _ := w.d.AntiEntropyStatus()

	// 2. What the journal cannot show, found while the writes go on.
	if _, err := west.Set("/ae/k1", []byte("written on the standby"), -1); err != nil {
		t.Fatal(err)
	}
	if err := west.Delete("/ae/k2", -1); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, west, "/ae/rogue", nil, 0, nil)
	if _, err := east.SetACL("/ae/k3", zk.WorldACL(zk.PermRead|zk.PermAdmin), -1); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/ae/k1": "data", "/ae/k2": "missing", "/ae/rogue": "extra", "/ae/k3": "acl"}
	changed := time.Now()
	var rep sitedaemon.AntiEntropyReport
	for range 3 {
		// The pass under way when the changes were made may have read before them.
		rep = nextPass("a pass after the injected divergence", changed)
		if rep.Started.After(changed) {
			break
		}
		changed = rep.Finished
	}
	got := map[string]string{}
	for _, n := range rep.Paths {
		got[n.Path] = n.What
	}
	stopLoad()
	if rep.Divergent != len(want) || len(got) != len(want) {
		t.Fatalf("divergence reported %d %v, want %v", rep.Divergent, got, want)
	}
	for path, what := range want {
		if got[path] != what {
			t.Fatalf("%s: reported %q, want %q (report %v)", path, got[path], what, got)
		}
	}
	metrics := httpGet(t, "http://"+metricsAddr+"/metrics", 200)
	for _, m := range []string{
		`zkdr_antientropy_divergent_nodes{site="west"} 4`, "zkdr_antientropy_passes_total{",
		"zkdr_antientropy_nodes_compared{", "zkdr_antientropy_last_pass_timestamp_seconds{",
		"zkdr_antientropy_last_pass_duration_seconds{",
	} {
		if !strings.Contains(metrics, m) {
			t.Fatalf("/metrics lacks %s:\n%s", m, metrics)
		}
	}
	out, err := p.zkdr("status", "--config", p.configFile("west"), "--json")
	if err != nil {
		t.Fatalf("zkdr status: %v\n%s", err, out)
	}
	var sites []struct {
		Site        string
		AntiEntropy *sitedaemon.AntiEntropyStatus `json:"anti_entropy"`
	}
	if err := json.Unmarshal([]byte(out), &sites); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	if len(sites) != 2 || sites[0].Site != "west" || sites[0].AntiEntropy == nil || sites[0].AntiEntropy.Last == nil ||
		sites[0].AntiEntropy.Last.Divergent != 4 || len(sites[0].AntiEntropy.Last.Paths) != 4 {
		t.Fatalf("status does not show west's divergence:\n%s", out)
	}
	text, err := p.zkdr("status", "--config", p.configFile("west"))
	if err != nil || !strings.Contains(text, "west: anti-entropy: last pass") || !strings.Contains(text, "4 divergent") ||
		!strings.Contains(text, "/ae/k3 (acl)") {
		t.Fatalf("zkdr status (text) does not show the divergence: %v\n%s", err, text)
	}
	secret := strings.SplitN(superAuth, ":", 2)[1]
	if strings.Contains(out+text+metrics, secret) {
		t.Fatal("status or metrics show the ZooKeeper credential")
	}
	t.Logf("zkdr status:\n%s", text)

	// 3. A fresh snapshot of the active site repairs the standby; the next
	// pass that starts after it is applied finds nothing.
	ctx := context.Background()
	if err := source.RequestSnapshot(ctx, east, "west", "anti-entropy test"); err != nil {
		t.Fatal(err)
	}
	p.waitConverged(2 * time.Minute)
	repaired := time.Now()
	for range 3 {
		rep = nextPass("a pass after the repair", repaired)
		if rep.Started.After(repaired) {
			break
		}
		repaired = rep.Finished
	}
	if rep.Divergent != 0 {
		t.Fatalf("after the repair: %+v", rep)
	}
	end, _ := w.d.AntiEntropyStatus()
	t.Logf("passes %d (failed %d) in the whole test; %d before the injected divergence", end.Passes, end.FailedPasses, st.Passes)
}

// startAELoad writes to /ae/load on the active site until the returned
// function is called: sets of a few hot nodes, creates and deletes, and
// ephemeral nodes (not replicated by default).
func startAELoad(t *testing.T, c *zk.Conn) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		open := zk.WorldACL(zk.PermAll)
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			hot := fmt.Sprintf("/ae/load/hot%d", n%3)
			if _, err := c.Set(hot, []byte(fmt.Sprint(n)), -1); err != nil {
				_, _ = c.Create(hot, []byte(fmt.Sprint(n)), 0, open)
			}
			_, _ = c.Create(fmt.Sprintf("/ae/load/n%d", n), []byte("x"), 0, open)
			if n >= 10 {
				_ = c.Delete(fmt.Sprintf("/ae/load/n%d", n-10), -1)
			}
			if n%5 == 0 {
				_, _ = c.Create(fmt.Sprintf("/ae/load/e%d", n), nil, zk.FlagEphemeral, open)
			}
		}
	}()
	stop := sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(stop)
	return stop
}
