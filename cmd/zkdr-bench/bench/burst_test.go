package bench

import (
	"strings"
	"testing"
	"time"
)

func TestBurstRow(t *testing.T) {
	r := &Report{Setup: Setup{CuratorMirror: true}}
	r.buildRows()
	row := findRow(t, r, "burst of child creates")
	if row.Zkdr != notMeasured || row.Target != "peak ≤ 5 s" {
		t.Errorf("unmeasured burst: %+v", row)
	}

	r.Burst = &BurstResult{Children: 20_000, PerMulti: 1000,
		Zkdr: &BurstMirror{LagPeak: 38 * time.Second, LagSamples: 400, ToEqual: 30 * time.Second, ToWatermark: 39 * time.Second,
			WatermarkStill: 37 * time.Second, Writes: 2 * time.Second},
		Curator: &BurstMirror{ToEqual: 15 * time.Second}}
	r.buildRows()
	row = findRow(t, r, "burst of 20,000 child creates under one parent (Multi of 1,000)")
	if row.Verdict != "missed" || row.Ratio != "equal 2.00 × curator" || !strings.Contains(row.Zkdr, "lag peak 38.0 s") ||
		!strings.Contains(row.Peers, "curator-mirror equal 15.0 s") {
		t.Errorf("burst: %+v", row)
	}

	r.Burst.Zkdr.LagPeak = 900 * time.Millisecond
	r.Burst.Curator = &BurstMirror{ToEqual: 5 * time.Minute, Capped: true}
	r.buildRows()
	row = findRow(t, r, "burst of 20,000")
	if row.Verdict != "met" || row.Ratio != "" || !strings.Contains(row.Peers, "> 300.0 s (stopped)") {
		t.Errorf("burst, curator stopped: %+v", row)
	}

	r.Burst.Curator = nil
	r.buildRows()
	if row = findRow(t, r, "burst of 20,000"); row.Peers != curatorNone {
		t.Errorf("burst without curator's figure: %+v", row)
	}
}

func TestLagOver(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	samples := []lagSample{
		{at: at(0), lag: 100 * time.Millisecond, zxid: 1},
		{at: at(100), lag: 200 * time.Millisecond, zxid: 1},
		{at: at(200), lag: 50 * time.Millisecond, zxid: 2},
		{at: at(300), lag: 150 * time.Millisecond, zxid: 2},
		{at: at(400), lag: 250 * time.Millisecond, zxid: 2},
		{at: at(500), lag: 350 * time.Millisecond, zxid: 2},
		{at: at(600), lag: 60 * time.Millisecond, zxid: 3},
		{at: at(700), lag: 5 * time.Second, zxid: 3}, // after the window
	}
	peak, still, n := lagOver(samples, at(0), at(650))
	if peak != 350*time.Millisecond || still != 300*time.Millisecond || n != 7 {
		t.Errorf("peak %s still %s n %d", peak, still, n)
	}
}

func findRow(t *testing.T, r *Report, prefix string) Row {
	t.Helper()
	for _, row := range r.Rows {
		if strings.HasPrefix(row.Scenario, prefix) {
			return row
		}
	}
	t.Fatalf("no row %q in %+v", prefix, r.Rows)
	return Row{}
}
