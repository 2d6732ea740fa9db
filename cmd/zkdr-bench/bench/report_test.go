package bench

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseToolOutput(t *testing.T) {
	c, err := parseChurn("churn: 59874 sets (5979/s), 3 errors\n")
	if err != nil || c.Sets != 59874 || c.Rate != 5979 || c.Errors != 3 {
		t.Fatalf("churn: %+v %v", c, err)
	}
	l, err := parseProbe("probe lag: n=1190 p50=12ms p90=40ms p99=1.204s max=2.5s\n")
	if err != nil || l.Samples != 1190 || l.P50 != 12*time.Millisecond || l.P99 != 1204*time.Millisecond || l.Max != 2500*time.Millisecond {
		t.Fatalf("probe: %+v %v", l, err)
	}
	n, took, err := parseCopy("copy parallel: 100101 nodes in 26.61s = 3762 nodes/s\n")
	if err != nil || n != 100101 || took != 26610*time.Millisecond {
		t.Fatalf("copy: %d %v %v", n, took, err)
	}
	n, took, err = parseLoad("loaded 10000 nodes under /bench in 1.50s\n")
	if err != nil || n != 10000 || took != 1500*time.Millisecond {
		t.Fatalf("load: %d %v %v", n, took, err)
	}
	if _, err := parseProbe("probe: no probe arrived\n"); !errors.Is(err, ErrToolOutput) {
		t.Fatalf("probe without figures: %v", err)
	}
}

func TestReportRowsAndTargets(t *testing.T) {
	r := &Report{Label: "quick", Started: time.Unix(0, 0), Setup: Setup{Nodes: 10_000, DataSize: 100, ChurnRate: 6000, ChurnDuration: 10 * time.Second},
		Seed:    &SeedResult{Zkdr: 3 * time.Second, Parallel: 10 * time.Second, Serial: 60 * time.Second, SerialCapped: true, Curator: 20 * time.Second},
		Lag:     &LagScenario{Zkdr: LagResult{Samples: 100, P50: 20 * time.Millisecond, P99: 600 * time.Millisecond, Max: time.Second}},
		Backlog: &BacklogResult{Events: 50_000, Took: 5 * time.Second, Rate: 10_000, Ceiling: 20_000},
	}
	r.buildRows()
	byScenario := map[string]Row{}
	for _, row := range r.Rows {
		key := strings.SplitN(row.Scenario, ":", 2)[0]
		if _, dup := byScenario[key]; !dup {
			byScenario[key] = row
		}
	}
	tests := []struct {
		scenario, ratio, verdict string
	}{
		{"seed a standby", "0.30 × parallel", "met"},
		{"steady lag", "", "missed"},
		{"apply a backlog of 50,000 update events", "0.50 × ceiling", "missed"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			row, ok := byScenario[tt.scenario]
			if !ok {
				t.Fatalf("no row; rows: %+v", r.Rows)
			}
			if row.Ratio != tt.ratio || row.Verdict != tt.verdict {
				t.Fatalf("ratio %q verdict %q, want %q %q", row.Ratio, row.Verdict, tt.ratio, tt.verdict)
			}
		})
	}
	md := r.Markdown()
	for _, want := range []string{"copy serial > 60.0 s (stopped)", notMeasured, "| scenario | zkdr |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// A run with curator-mirror that gave no figure says so in its cells.
	r.Setup.CuratorMirror, r.Seed.Curator = true, 0
	r.buildRows()
	for _, row := range r.Rows {
		if strings.HasPrefix(row.Scenario, "seed a standby: 10,000") && !strings.Contains(row.Peers, curatorNone) ||
			strings.HasPrefix(row.Scenario, "steady lag") && row.Peers != curatorNone {
			t.Errorf("row %q peers %q lack %q", row.Scenario, row.Peers, curatorNone)
		}
	}
	path := filepath.Join(t.TempDir(), "out", "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Rows) != len(r.Rows) {
		t.Fatalf("json round trip: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, name := range []string{"quick", "full", "large"} {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := QuickConfig()
	c.Scenarios = []string{"nope"}
	if err := c.Validate(); !errors.Is(err, ErrUnknownScenario) {
		t.Errorf("unknown scenario: %v", err)
	}
	c = QuickConfig()
	c.Root = "/"
	if c.Validate() == nil {
		t.Error("root / accepted")
	}
	if got := thousands(1234567); got != "1,234,567" {
		t.Errorf("thousands: %s", got)
	}
}

func TestFailoverAndCeilingRows(t *testing.T) {
	r := &Report{Setup: Setup{Nodes: 1_000_000, DataSize: 100},
		Seed: &SeedResult{Zkdr: 90 * time.Second, Parallel: 300 * time.Second, SourceRSSMB: 350},
		Ceiling: &CeilingScenario{WriteCeiling: 9000, Duration: time.Minute,
			Zkdr:    &CeilingLag{Lag: LagResult{Samples: 500, P99: 900 * time.Millisecond}, Growth: Growth{Samples: 100, Sent: 200, Slope: 0.01}},
			Curator: &CeilingLag{Lag: LagResult{Samples: 50, P99: 20 * time.Second}, Growth: Growth{Samples: 1, Sent: 200, Grows: true}}},
		Switchover: &SwitchoverResult{Rate: 2000, Drills: []Drill{
			{Window: time.Second}, {Window: 3 * time.Second}, {Window: 1500 * time.Millisecond, Lost: 1}}},
		Promote: &PromoteResult{ToWrite: 9 * time.Second, Drain: 3 * time.Second, AfterDrain: 6 * time.Second},
	}
	r.buildRows()
	find := func(prefix string) Row {
		for _, row := range r.Rows {
			if strings.HasPrefix(row.Scenario, prefix) {
				return row
			}
		}
		t.Fatalf("no row %q in %+v", prefix, r.Rows)
		return Row{}
	}
	// 90 s is within 100 s, but 350 MB is over 300 MB.
	if row := find("seed a standby: 1,000,000"); row.Verdict != "missed" || !strings.Contains(row.Zkdr, "350 MB") {
		t.Errorf("large seed: %+v", row)
	}
	if row := find("lag at the primary's write ceiling"); row.Verdict != "met" || !strings.Contains(row.Peers, "falling behind (1 of 200") {
		t.Errorf("ceiling: %+v", row)
	}
	if row := find("switchover drill"); row.Verdict != "missed" || !strings.Contains(row.Zkdr, "median 1500 ms") || !strings.Contains(row.Zkdr, "RPO 0 in 2 of 3") {
		t.Errorf("switchover: %+v", row)
	}
	if row := find("promote after killing"); row.Verdict != "missed" {
		t.Errorf("promote: %+v", row)
	}
}

func TestGrowth(t *testing.T) {
	end := time.Now()
	steady, growing := &lagTracker{seen: map[int64]time.Duration{}}, &lagTracker{seen: map[int64]time.Duration{}}
	for i := range 200 {
		at := end.Add(-20*time.Second + time.Duration(i)*100*time.Millisecond)
		steady.sent, growing.sent = append(steady.sent, at), append(growing.sent, at)
		steady.seen[at.UnixNano()] = 200*time.Millisecond + time.Duration(i%3)*10*time.Millisecond
		growing.seen[at.UnixNano()] = time.Duration(i) * 50 * time.Millisecond // half a second per second
	}
	if g := steady.growth(end, 20*time.Second); g.Grows || g.Samples != 200 || g.Sent != 200 {
		t.Errorf("steady: %+v", g)
	}
	if g := growing.growth(end, 20*time.Second); !g.Grows || g.Slope < 0.4 {
		t.Errorf("growing: %+v", g)
	}
}
