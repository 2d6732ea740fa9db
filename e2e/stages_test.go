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

	"github.com/zkdr/zkdr/replicator"
)

// Lag by stage names the hop that holds it. Under a steady write load, the
// source's stages (commit → seen, read → appended) count on the active site
// and the mirror's and applier's (appended → delivered, delivered → applied)
// on the standby, in Status, /metrics and zkdr status. Then the link between
// the sites is slowed by 300 ms: appended → delivered rises above that, and
// the other stages stay well below it.
func TestStageLatencyNamesTheSlowHop(t *testing.T) {
	addr := map[string]string{"east": freeAddr(t), "west": freeAddr(t)}
	p := newPair(t)
	mustCreate(t, p.conn["east"], "/stages", nil, 0, nil)
	for i := range stageLoadNodes {
		mustCreate(t, p.conn["east"], fmt.Sprintf("/stages/n%02d", i), []byte("0"), 0, nil)
	}
	mctx, stopMetrics := context.WithCancel(context.Background())
	t.Cleanup(stopMetrics)
	for _, s := range []string{"east", "west"} {
		d := p.start(s).d
		go func() { _ = d.ServeMetrics(mctx, addr[s]) }()
	}
	p.waitConverged(2 * time.Minute)
	stopLoad := startStageLoad(t, p.conn["east"], 5*time.Millisecond)
	defer stopLoad()

	// Each site counts its own stages, and only those.
	base := p.stages()
	waitFor(t, 2*time.Minute, "every stage to count a hundred observations", func() bool {
		w := p.stages().Sub(base)
		return w.CommitSeen.Count() >= 100 && w.ReadAppended.Count() >= 100 &&
			w.AppendedDelivered.Count() >= 100 && w.DeliveredApplied.Count() >= 100
	})
	est, wst := p.daemons["east"].d.Status(), p.daemons["west"].d.Status()
	if est.Source == nil || est.Applier != nil || wst.Applier == nil || wst.Source != nil {
		t.Fatalf("east runs source %v applier %v, west source %v applier %v",
			est.Source != nil, est.Applier != nil, wst.Source != nil, wst.Applier != nil)
	}
	if s := est.Source.Stages; s.AppendedDelivered.Count()+s.DeliveredApplied.Count() != 0 {
		t.Fatalf("the active site's source reports standby stages: %+v", s)
	}
	if s := wst.Applier.Stages; s.CommitSeen.Count()+s.ReadAppended.Count() != 0 {
		t.Fatalf("the standby's applier reports source stages: %+v", s)
	}
	for site, stages := range map[string][2][]string{
		"east": {replicator.SourceStages, replicator.ApplierStages},
		"west": {replicator.ApplierStages, replicator.SourceStages},
	} {
		metrics := httpGet(t, "http://"+addr[site]+"/metrics", 200)
		for _, st := range stages[0] {
			want := fmt.Sprintf(`zkdr_replication_stage_seconds_count{site=%q,stage=%q} `, site, st)
			if !strings.Contains(metrics, want) || strings.Contains(metrics, want+"0\n") {
				t.Errorf("%s /metrics: no observations of %s", site, st)
			}
		}
		for _, st := range stages[1] {
			if strings.Contains(metrics, fmt.Sprintf(`stage=%q`, st)) {
				t.Errorf("%s /metrics has the other site's stage %s", site, st)
			}
		}
	}

	// Slow the link. The few messages already on their way cross at the old
	// pace; a hundred after them, they are far from the median.
	const latency = 300 * time.Millisecond
	p.link.SetLatency(latency)
	base = p.stages()
	var w replicator.StageLatency
	waitFor(t, 2*time.Minute, "a hundred messages through the slowed link", func() bool {
		w = p.stages().Sub(base)
		return w.AppendedDelivered.Count() >= 100 && w.CommitSeen.Count() >= 100 && w.DeliveredApplied.Count() >= 100
	})
	p50 := func(name string) time.Duration {
		h, _ := w.Stage(name)
		return h.Quantile(0.5)
	}
	t.Logf("with %v on the link, p50: commit→seen %v, read→appended %v, appended→delivered %v, delivered→applied %v",
		latency, p50(replicator.StageCommitSeen), p50(replicator.StageReadAppended),
		p50(replicator.StageAppendedDelivered), p50(replicator.StageDeliveredApplied))
	if d := p50(replicator.StageAppendedDelivered); d < 250*time.Millisecond {
		t.Errorf("appended → delivered p50 %v with %v on the link", d, latency)
	}
	for _, st := range []string{replicator.StageCommitSeen, replicator.StageReadAppended, replicator.StageDeliveredApplied} {
		if d := p50(st); d >= 200*time.Millisecond {
			t.Errorf("%s p50 %v: the slowed link shows in a stage it is not part of", st, d)
		}
	}

	// zkdr status shows the same, once the slowed link fills most of its
	// one-minute window.
	cfg := p.configFile("east")
	var sites []struct {
		Site   string
		Stages *replicator.StageReport
	}
	var out string
	waitFor(t, 3*time.Minute, "zkdr status to show the slow hop", func() bool {
		var err error
		out, err = p.zkdr("status", "--config", cfg, "--json")
		if err != nil || json.Unmarshal([]byte(out), &sites) != nil || len(sites) != 2 || sites[0].Stages == nil || sites[1].Stages == nil {
			return false
		}
		ad, _ := sites[1].Stages.Stage(replicator.StageAppendedDelivered)
		return ad.Count > 0 && ad.P50 >= 0.25
	})
	east, west := sites[0].Stages, sites[1].Stages
	if sites[0].Site != "east" || east.Role != "source" || west.Role != "applier" {
		t.Fatalf("status stages:\n%s", out)
	}
	for _, c := range []struct {
		r     *replicator.StageReport
		stage string
	}{{east, replicator.StageCommitSeen}, {east, replicator.StageReadAppended}, {west, replicator.StageDeliveredApplied}} {
		if s, ok := c.r.Stage(c.stage); !ok || s.Count == 0 || s.P50 >= 0.2 {
			t.Errorf("zkdr status: %s %+v (present %v)", c.stage, s, ok)
		}
	}
	text, err := p.zkdr("status", "--config", cfg)
	if err != nil || !strings.Contains(text, "APPENDED-DELIVERED") || !strings.Contains(text, "stages: p50/p99 over the last") {
		t.Fatalf("zkdr status (table): %v\n%s", err, text)
	}
	t.Logf("zkdr status:\n%s", text)
}

const stageLoadNodes = 20

// stages is the pair's stage latency: the active site's source stages with
// the standby's applier stages.
func (p *pair) stages() replicator.StageLatency {
	var s replicator.StageLatency
	if src := p.daemons["east"].d.Status().Source; src != nil {
		s.CommitSeen, s.ReadAppended = src.Stages.CommitSeen, src.Stages.ReadAppended
	}
	if ap := p.daemons["west"].d.Status().Applier; ap != nil {
		s.AppendedDelivered, s.DeliveredApplied = ap.Stages.AppendedDelivered, ap.Stages.DeliveredApplied
	}
	return s
}

// startStageLoad sets the /stages nodes in turn, one set every interval,
// until the returned function is called.
func startStageLoad(t *testing.T, conn *zk.Conn, every time.Duration) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A failed set (a lost connection) is just one change fewer.
			_, _ = conn.Set(fmt.Sprintf("/stages/n%02d", i%stageLoadNodes), []byte(fmt.Sprint(i)), -1)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}
