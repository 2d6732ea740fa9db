package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is everything one run measured.
type Report struct {
	Label      string            `json:"label"`
	Started    time.Time         `json:"started"`
	Took       time.Duration     `json:"took_ns"`
	Machine    Machine           `json:"machine"`
	Setup      Setup             `json:"setup"`
	Seed       *SeedResult       `json:"seed,omitempty"`
	Lag        *LagScenario      `json:"lag,omitempty"`
	Ceiling    *CeilingScenario  `json:"ceiling,omitempty"`
	Burst      *BurstResult      `json:"burst,omitempty"`
	Workload   *WorkloadResult   `json:"workload,omitempty"`
	Backlog    *BacklogResult    `json:"backlog,omitempty"`
	Switchover *SwitchoverResult `json:"switchover,omitempty"`
	Promote    *PromoteResult    `json:"promote,omitempty"`
	Rows       []Row             `json:"rows"`
	Problems   []string          `json:"problems,omitempty"`
}

// Setup is the part of the configuration that shapes the figures.
type Setup struct {
	Nodes         int           `json:"nodes"`
	TreeNodes     int           `json:"tree_nodes"`
	Fanout        int           `json:"fanout"`
	DataSize      int           `json:"data_size"`
	ChurnRate     int           `json:"churn_rate"`
	ChurnDuration time.Duration `json:"churn_duration_ns"`
	Backlog       int           `json:"backlog"`
	SyncAlways    bool          `json:"nats_sync_always"`
	// CuratorMirror says the run included curator-mirror, so a row without
	// its figure says it has none rather than leaving the cell empty.
	CuratorMirror bool `json:"curator_mirror"`
	// ZooKeeperHeap is each ZooKeeper server's -Xmx.
	ZooKeeperHeap string `json:"zookeeper_heap"`
	// Watch is the source's watch setting ("" for the default, auto).
	Watch string `json:"watch,omitempty"`
	// SourceProcess says the source daemon ran as a child process.
	SourceProcess bool          `json:"source_process"`
	LoadTook      time.Duration `json:"load_took_ns"`
}

// SeedResult is the seed scenario: how long each way of filling a fresh
// standby from the loaded primary took until the standby equalled it.
type SeedResult struct {
	// Zkdr runs from starting both daemons on a fresh pair until the standby
	// was seen equal; ZkdrApplied until the applier's checkpoint said the
	// snapshot was applied.
	Zkdr        time.Duration `json:"zkdr_ns"`
	ZkdrApplied time.Duration `json:"zkdr_applied_ns"`
	Parallel    time.Duration `json:"copy_parallel_ns"`
	Serial      time.Duration `json:"copy_serial_ns"`
	// SerialCapped means the serial copy was stopped at its cap: Serial is a
	// lower bound.
	SerialCapped bool          `json:"copy_serial_capped"`
	Curator      time.Duration `json:"curator_mirror_ns"`
	// SourceRSSMB is the peak resident memory (VmHWM) of the active site's
	// daemon, when it ran as its own process during the seed.
	SourceRSSMB float64 `json:"source_rss_mb,omitempty"`
}

// LagScenario is the lag scenario: each mirror's lag under the same load.
type LagScenario struct {
	Zkdr          LagResult     `json:"zkdr"`
	ZkdrChurn     ChurnResult   `json:"zkdr_churn"`
	ZkdrStages    []StageFigure `json:"zkdr_stages,omitempty"`
	Curator       *LagResult    `json:"curator_mirror,omitempty"`
	CuratorChurn  *ChurnResult  `json:"curator_mirror_churn,omitempty"`
	CuratorRSSMB  float64       `json:"curator_mirror_rss_mb,omitempty"`
	CuratorBehind bool          `json:"curator_mirror_behind"`
}

// BacklogResult is the backlog scenario.
type BacklogResult struct {
	Events uint64        `json:"events"`
	Took   time.Duration `json:"took_ns"`
	Rate   float64       `json:"events_per_s"`
	// Startup is from starting the daemon to its first applied event (it
	// connects and indexes the standby first); ApplyRate leaves it out.
	Startup time.Duration `json:"startup_ns"`
	// Start is how the applier came to know the standby: "warm" or "cold: "
	// and why (applier.Stats.Start).
	Start      string  `json:"start"`
	ApplyRate  float64 `json:"apply_events_per_s"`
	CeilingOps int     `json:"ceiling_ops"`
	Ceiling    float64 `json:"ceiling_setdata_per_s"`
	Batches    uint64  `json:"batches"`
	// Messages is how many journal messages carried the events.
	Messages         uint64  `json:"messages"`
	EventsPerMessage float64 `json:"events_per_message"`
	// ShapeCeiling is the raw ceiling again with ShapePerMulti setData to a
	// Multi and ShapeInFlight in flight: the applier's own batch shape.
	ShapePerMulti int     `json:"shape_per_multi"`
	ShapeInFlight int     `json:"shape_in_flight"`
	ShapeCeiling  float64 `json:"shape_ceiling_setdata_per_s"`
	// CPU is each process's share of one core during the apply (the bench
	// process holds the daemons and NATS); Load the one-minute load average
	// after it.
	CPU  map[string]float64 `json:"cpu_share"`
	Load string             `json:"load_average"`
}

// Row is one line of the table: zkdr's figure, the peers' from the same run,
// their ratio and the target.
type Row struct {
	Scenario string `json:"scenario"`
	Zkdr     string `json:"zkdr"`
	Peers    string `json:"peers"`
	Ratio    string `json:"ratio"`
	Target   string `json:"target"`
	Verdict  string `json:"verdict"`
}

const notMeasured = "not measured yet"

// curatorNone fills a peer cell when curator-mirror ran but gave no figure
// (it did not seed, so its lag was not measured); the problem line says why.
const curatorNone = "curator-mirror: no figure (see the problems below)"

// buildRows turns the results into the table's rows, targets included.
func (r *Report) buildRows() {
	r.Rows = nil
	if s := r.Seed; s != nil {
		row := Row{Scenario: fmt.Sprintf("seed a standby: %s znodes (%d B)", thousands(r.Setup.Nodes), r.Setup.DataSize),
			Zkdr: secs(s.Zkdr), Target: "≤ 0.4 × parallel copy"}
		var peers []string
		if s.Parallel > 0 {
			peers = append(peers, "copy parallel "+secs(s.Parallel))
		}
		if s.Serial > 0 {
			v := secs(s.Serial)
			if s.SerialCapped {
				v = "> " + v + " (stopped)"
			}
			peers = append(peers, "copy serial "+v)
		}
		if s.Curator > 0 {
			peers = append(peers, "curator-mirror "+secs(s.Curator))
		} else if r.Setup.CuratorMirror {
			peers = append(peers, curatorNone)
		}
		row.Peers = strings.Join(peers, "; ")
		ok := true
		if s.Zkdr > 0 && s.Parallel > 0 {
			ratio := s.Zkdr.Seconds() / s.Parallel.Seconds()
			row.Ratio = fmt.Sprintf("%.2f × parallel", ratio)
			ok = ratio <= 0.4
		}
		if r.Setup.Nodes >= 1_000_000 {
			// The large seed has absolute targets as well.
			row.Target += "; ≤ 100 s, source RSS ≤ 300 MB"
			ok = ok && s.Zkdr > 0 && s.Zkdr <= 100*time.Second && s.SourceRSSMB > 0 && s.SourceRSSMB <= 300
		}
		if s.SourceRSSMB > 0 {
			row.Zkdr += fmt.Sprintf("; source RSS peak %.0f MB (zkdr run as its own process)", s.SourceRSSMB)
		}
		if s.Zkdr > 0 && (s.Parallel > 0 || r.Setup.Nodes >= 1_000_000) {
			row.Verdict = verdict(ok)
		}
		r.Rows = append(r.Rows, row)
	}
	if r.Setup.Nodes < 1_000_000 {
		r.Rows = append(r.Rows, Row{Scenario: "seed a standby: 1,000,000 znodes (make bench-large)", Zkdr: notMeasured,
			Target: "≤ 0.4 × parallel copy; ≤ 100 s, source RSS ≤ 300 MB"})
	}
	if l := r.Lag; l != nil {
		row := Row{Scenario: fmt.Sprintf("steady lag: %s sets/s for %s on %s znodes", thousands(r.Setup.ChurnRate), r.Setup.ChurnDuration, thousands(r.Setup.Nodes)),
			Zkdr: lagText(l.Zkdr) + fmt.Sprintf(" (churn %.0f/s)", l.ZkdrChurn.Rate) + stagesText(l.ZkdrStages), Target: "p99 ≤ 500 ms"}
		if l.Curator != nil {
			row.Peers = "curator-mirror " + lagText(*l.Curator)
			if l.CuratorChurn != nil {
				row.Peers += fmt.Sprintf(" (churn %.0f/s)", l.CuratorChurn.Rate)
			}
			if l.CuratorBehind {
				row.Peers += ", fell behind"
			}
			if l.Curator.P99 > 0 {
				row.Ratio = fmt.Sprintf("p99 %.3f × curator", l.Zkdr.P99.Seconds()/l.Curator.P99.Seconds())
			}
		} else if r.Setup.CuratorMirror {
			row.Peers = curatorNone
		}
		row.Verdict = verdict(l.Zkdr.P99 <= 500*time.Millisecond && l.Zkdr.Samples > 0)
		r.Rows = append(r.Rows, row)
	}
	r.Rows = append(r.Rows, r.ceilingRow(), r.burstRow())
	if row, ok := r.workloadRow(); ok {
		r.Rows = append(r.Rows, row)
	}
	if b := r.Backlog; b != nil {
		row := Row{Scenario: fmt.Sprintf("apply a backlog of %s update events", thousands(int(b.Events))),
			Zkdr: fmt.Sprintf("%.0f events/s in %s; %.0f events/s after a %s %s start", b.Rate, secs(b.Took),
				b.ApplyRate, secs(b.Startup), startKind(b.Start)),
			Peers:  fmt.Sprintf("standby's raw Multi ceiling %.0f setData/s", b.Ceiling),
			Target: "≥ 0.6 × ceiling"}
		if b.Ceiling > 0 {
			ratio := b.Rate / b.Ceiling
			row.Ratio = fmt.Sprintf("%.2f × ceiling", ratio)
			row.Verdict = verdict(ratio >= 0.6)
		}
		r.Rows = append(r.Rows, row)
	}
	r.Rows = append(r.Rows, r.switchoverRow(), r.promoteRow())
}

func (r *Report) switchoverRow() Row {
	const target = "median window ≤ 2 s, RPO 0 every time"
	s := r.Switchover
	if s == nil || len(s.Drills) == 0 {
		return Row{Scenario: "switchover drill under load", Zkdr: notMeasured, Target: target}
	}
	row := Row{Scenario: fmt.Sprintf("switchover drill under %s sets/s, %d times", thousands(s.Rate), len(s.Drills)), Peers: "—", Target: target}
	var client, reported []time.Duration
	var failed []string
	rpo0 := 0
	for i, d := range s.Drills {
		if d.Error != "" {
			failed = append(failed, fmt.Sprintf("drill %d failed: %s", i+1, d.Error))
			continue
		}
		client, reported = append(client, d.Window), append(reported, d.Reported)
		if d.Lost == 0 {
			rpo0++
		}
	}
	if len(client) == 0 {
		row.Zkdr = "failed: " + s.Drills[len(s.Drills)-1].Error
		row.Verdict = verdict(false)
		return row
	}
	row.Zkdr = fmt.Sprintf("client's window median %s (%s–%s), zkdr's own figure median %s; RPO 0 in %d of %d (client %.0f sets/s)",
		ms(median(client)), ms(slices.Min(client)), ms(slices.Max(client)), ms(median(reported)), rpo0, len(client), s.Achieved)
	if len(failed) > 0 {
		row.Zkdr += "; " + strings.Join(failed, "; ")
	}
	row.Verdict = verdict(median(client) <= 2*time.Second && rpo0 == len(client) && len(failed) == 0)
	return row
}

func (r *Report) promoteRow() Row {
	const target = "≤ 5 s after the drain"
	pr := r.Promote
	if pr == nil {
		return Row{Scenario: "promote after killing the active site", Zkdr: notMeasured, Target: target}
	}
	return Row{Scenario: "promote after killing the active site",
		Zkdr: fmt.Sprintf("%s from the command to a client's write on the new site (drained %s after the command, the write %s after that); steps %s; "+
			"%d acknowledged writes lost (the report gave a data-loss window of %s)",
			secs(pr.ToWrite), secs(pr.Drain), secs(pr.AfterDrain), strings.Join(pr.Steps, ", "), pr.Lost, secs(pr.DataLossWindow)),
		Peers: "—", Target: target, Verdict: verdict(pr.AfterDrain <= 5*time.Second)}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// Markdown renders the machine, the setup and the table.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "### zkdr benchmarks (%s run, %s)\n\n", r.Label, r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %d CPUs", m.CPUs)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", m.CPUModel)
	}
	fmt.Fprintf(&b, ", %s MB memory, %s", thousands(m.MemoryMB), m.OS)
	if m.Kernel != "" {
		fmt.Fprintf(&b, " (Linux %s)", m.Kernel)
	}
	fmt.Fprintf(&b, ", %s, ZooKeeper %s, load average at start %s", m.GoVersion, m.ZooKeeper, m.LoadAverage)
	if m.LoadDuring != "" {
		fmt.Fprintf(&b, ", during the run %s", m.LoadDuring)
	}
	b.WriteString(".\n")
	daemons := "zkdr daemons in-process"
	if r.Setup.SourceProcess {
		daemons = "the source daemon a `zkdr run` child process, the applier in-process"
	}
	if r.Setup.Watch != "" {
		daemons += ", source.watch = " + r.Setup.Watch
	}
	fmt.Fprintf(&b, "Both ensembles standalone on loopback (java -Xmx%s); NATS embedded in the bench process (sync always: %t); "+
		"%s. Run took %s.\n\n", r.Setup.ZooKeeperHeap, r.Setup.SyncAlways, daemons, r.Took.Round(time.Second))
	b.WriteString("| scenario | zkdr | peers (same run) | ratio | target | |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", row.Scenario, row.Zkdr, dash(row.Peers), dash(row.Ratio), dash(row.Target), row.Verdict)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "\n- problem: %s", p)
	}
	if len(r.Problems) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// WriteJSON writes the report to path, making its directory.
func (r *Report) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func lagText(l LagResult) string {
	if l.Samples == 0 {
		return "no probe arrived"
	}
	return fmt.Sprintf("p50 %s / p99 %s / max %s", ms(l.P50), ms(l.P99), ms(l.Max))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ceilingRow is the lag at the primary's own write ceiling.
func (r *Report) ceilingRow() Row {
	const target = "p99 ≤ 1 s, no growth"
	c := r.Ceiling
	if c == nil {
		return Row{Scenario: "lag at the primary's write ceiling", Zkdr: notMeasured, Target: target}
	}
	row := Row{Scenario: fmt.Sprintf("lag at the primary's write ceiling: %s sets/s (measured) for %s on %s znodes",
		thousands(int(c.WriteCeiling)), c.Duration, thousands(r.Setup.Nodes)), Target: target}
	if c.Zkdr != nil {
		row.Zkdr = ceilingText(c.Zkdr)
		row.Verdict = verdict(c.Zkdr.Lag.Samples > 0 && c.Zkdr.Lag.P99 <= time.Second && !c.Zkdr.Growth.Grows)
	} else {
		row.Zkdr = "not measured"
	}
	if c.Curator != nil {
		row.Peers = "curator-mirror " + ceilingText(c.Curator)
		if c.Zkdr != nil && c.Curator.Lag.P99 > 0 && c.Zkdr.Lag.Samples > 0 {
			row.Ratio = fmt.Sprintf("p99 %.3f × curator", c.Zkdr.Lag.P99.Seconds()/c.Curator.Lag.P99.Seconds())
		}
	} else if r.Setup.CuratorMirror {
		row.Peers = curatorNone
	}
	return row
}

func ceilingText(c *CeilingLag) string {
	s := lagText(c.Lag) + fmt.Sprintf(" (churn %.0f/s); last %s: ", c.Churn.Rate, c.Growth.Window)
	switch {
	case c.Growth.Samples < 2:
		s += fmt.Sprintf("falling behind (%d of %d probes arrived)", c.Growth.Samples, c.Growth.Sent)
	case c.Growth.Grows && c.Growth.Unseen > unseenLimit:
		s += fmt.Sprintf("falling behind (nothing sent in its last %s arrived)", ms(c.Growth.Unseen))
	case c.Growth.Grows:
		s += fmt.Sprintf("grows %s → %s", ms(c.Growth.First), ms(c.Growth.Last))
	default:
		s += fmt.Sprintf("no growth (%s → %s)", ms(c.Growth.First), ms(c.Growth.Last))
	}
	if c.Behind {
		s += ", fell behind"
	}
	if c.Note != "" {
		s += " (" + c.Note + ")"
	}
	return s + stagesText(c.Stages)
}

// ReadJSON reads a report WriteJSON wrote and builds its rows again with the
// current rules.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r.buildRows()
	return &r, nil
}

// startKind is "warm" or "cold" from applier.Stats.Start.
func startKind(start string) string {
	if start == "warm" {
		return "warm"
	}
	return "cold"
}
