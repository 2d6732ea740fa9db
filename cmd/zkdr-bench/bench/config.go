package bench

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/workload"
)

// Scenario names, in the order Run measures them.
const (
	ScenarioSeed       = "seed"       // seed a fresh standby from a loaded primary
	ScenarioLag        = "lag"        // replication lag under steady setData load
	ScenarioCeiling    = "ceiling"    // replication lag at the primary's own write ceiling
	ScenarioBurst      = "burst"      // a burst of child creates under one parent
	ScenarioWorkload   = "workload"   // lag under Kafka-, lock-, queue-, registry- and Solr-shaped load (a pair of its own, before the others')
	ScenarioBacklog    = "backlog"    // apply a journal backlog against the standby's own ceiling
	ScenarioSwitchover = "switchover" // planned switchover drills under a client's load
	ScenarioPromote    = "promote"    // promote after the active site is killed
)

// AllScenarios lists every scenario Run knows.
var AllScenarios = []string{ScenarioSeed, ScenarioLag, ScenarioCeiling, ScenarioBurst, ScenarioWorkload, ScenarioBacklog, ScenarioSwitchover, ScenarioPromote}

// Config says what to measure and how big.
type Config struct {
	// Label names the run in the report ("quick", "full", "large").
	Label string
	// Scenarios to run, a subset of AllScenarios. The lag and backlog scenarios
	// run on the pair the seed scenario built, so they seed it themselves when
	// the seed scenario is not asked for (untimed).
	Scenarios []string

	// Nodes, Fanout and DataSize shape the primary's tree under Root (zkbench load).
	Nodes    int
	Fanout   int
	DataSize int
	Root     string

	// ChurnRate setData/s for ChurnDuration is the steady load of the lag
	// scenario; ProbeNodes nodes get a timestamp every ProbeEvery meanwhile.
	ChurnRate     int
	ChurnDuration time.Duration
	ProbeNodes    int
	ProbeEvery    time.Duration

	// The primary's write ceiling is searched from CeilingStart sets/s up by
	// half each CeilingStep; the load at it runs for CeilingDuration.
	CeilingStart    int
	CeilingStep     time.Duration
	CeilingDuration time.Duration

	// BurstChildren children are created under one fresh parent,
	// BurstPerMulti to a transaction, for the burst scenario.
	BurstChildren int
	BurstPerMulti int

	// WorkloadRate operations/s (0: as fast as they go) of internal/workload's
	// application mix run for WorkloadDuration on a base tree of about
	// WorkloadSize znodes, for the workload scenario.
	WorkloadRate     int
	WorkloadDuration time.Duration
	WorkloadSize     int

	// Backlog update events are built in the journal while the standby's daemon
	// is stopped, written at BacklogRate setData/s.
	Backlog     int
	BacklogRate int

	// Drills switchovers run while a client following the active site sets
	// DrillPaths leaves at DrillRate sets/s; the promote scenario runs under
	// the same client, after them.
	Drills     int
	DrillRate  int
	DrillPaths int

	// SerialCopy enables the serial copier; past SerialCap it is stopped and its
	// time reported as a lower bound.
	SerialCopy bool
	SerialCap  time.Duration
	// CuratorMirror enables the Curator-based mirror.
	CuratorMirror bool

	// PeersDir holds zkbench/ and curator-mirror/.
	PeersDir string
	// WorkDir holds the servers' data and the logs; "" means a new temp dir,
	// removed at the end unless KeepWorkDir.
	WorkDir     string
	KeepWorkDir bool
	// CPUProfileDir, when set, gets one CPU profile per scenario taken while the
	// zkdr daemons (which run in this process) do the measured work.
	CPUProfileDir string
	// SyncAlways makes both NATS servers fsync every append, as the dev mode and
	// a single-replica production journal do.
	SyncAlways bool
	// Timeout bounds each wait for a mirror to catch up.
	Timeout time.Duration

	// SourceProcess runs the active site's daemon as a `zkdr run` child
	// process during the seed, so the source's resident memory is its own
	// (VmHWM), not the bench's. Only the seed scenario can use it.
	SourceProcess bool
	// ZooKeeperHeap is every ZooKeeper server's -Xmx ("" means the harness's
	// 1g); a million-znode tree needs more.
	ZooKeeperHeap string
	// DaemonLogLevel is the level of the zkdr daemons' log in the work
	// directory (zkdr.log); "" means info.
	DaemonLogLevel string
	// Watch is the daemons' source.watch ("" means the default, auto); "one-shot"
	// measures the watch-per-znode source on the same machine.
	Watch string
	// ColdApplier runs the standby's applier without applier.index_file, so
	// every start walks the standby (the backlog row before warm starts).
	ColdApplier bool

	Logger hclog.Logger
}

// DefaultConfig is the full run of `make bench`.
func DefaultConfig() Config {
	c := Config{
		Label:           "full",
		Scenarios:       slices.Clone(AllScenarios),
		Nodes:           100_000,
		Fanout:          1000,
		DataSize:        100,
		Root:            "/bench",
		ChurnRate:       6000,
		ChurnDuration:   60 * time.Second,
		ProbeNodes:      50,
		ProbeEvery:      50 * time.Millisecond,
		CeilingStart:    8000,
		CeilingStep:     5 * time.Second,
		CeilingDuration: 60 * time.Second,
		BurstChildren:   20_000,
		BurstPerMulti:   1000,
		Backlog:         500_000,
		Drills:          5,
		DrillRate:       2000,
		DrillPaths:      2000,
		BacklogRate:     12_000,
		SerialCopy:      true,
		SerialCap:       5 * time.Minute,
		CuratorMirror:   true,
		PeersDir:        "../shared/peers",
		SyncAlways:      true,
		Timeout:         15 * time.Minute,
	}
	c.WorkloadRate, c.WorkloadDuration, c.WorkloadSize = 500, 30*time.Second, 2000
	return c
}

// QuickConfig is the smoke run of `make bench-quick`: same scenarios, small sizes.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Label = "quick"
	c.Nodes = 10_000
	c.ChurnDuration = 10 * time.Second
	c.CeilingStep = 3 * time.Second
	c.CeilingDuration = 25 * time.Second
	c.BurstChildren = 2000
	c.WorkloadDuration = 10 * time.Second
	c.Backlog = 50_000
	c.SerialCap = time.Minute
	c.Timeout = 5 * time.Minute
	return c
}

// LargeConfig is `make bench-large`: seeding a standby of a million znodes,
// against the parallel copier only (the serial one would take hours).
func LargeConfig() Config {
	c := DefaultConfig()
	c.Label = "large"
	c.Scenarios = []string{ScenarioSeed}
	c.Nodes = 1_000_000
	c.SerialCopy = false
	c.CuratorMirror = false
	c.SourceProcess = true
	c.ZooKeeperHeap = "4g"
	c.Timeout = 60 * time.Minute
	return c
}

// Preset returns the named configuration: quick, full or large.
func Preset(name string) (Config, error) {
	switch name {
	case "quick":
		return QuickConfig(), nil
	case "full":
		return DefaultConfig(), nil
	case "large":
		return LargeConfig(), nil
	}
	return Config{}, fmt.Errorf("bench: unknown preset %q (quick, full, large)", name)
}

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	switch {
	case len(c.Scenarios) == 0:
		return fmt.Errorf("bench: no scenario to run")
	case c.Nodes < 1 || c.Fanout < 1 || c.DataSize < 0:
		return fmt.Errorf("bench: nodes and fanout must be positive, data size not negative")
	case c.Root == "" || c.Root == "/" || c.Root[0] != '/':
		return fmt.Errorf("bench: root must be an absolute path below /, not %q", c.Root)
	case c.PeersDir == "":
		return fmt.Errorf("bench: peers directory is required")
	case c.Timeout <= 0:
		return fmt.Errorf("bench: timeout must be positive")
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return fmt.Errorf("%w: %q", ErrUnknownScenario, s)
		}
	}
	if c.wants(ScenarioLag) {
		if c.ChurnRate < 1 || c.ChurnDuration <= 0 || c.ProbeNodes < 1 || c.ProbeEvery <= 0 {
			return fmt.Errorf("bench: the lag scenario needs a churn rate, a duration, probe nodes and a probe period")
		}
		if c.ProbeNodes > c.Nodes {
			return fmt.Errorf("bench: %d probe nodes in a tree of %d", c.ProbeNodes, c.Nodes)
		}
	}
	if c.wants(ScenarioCeiling) && (c.CeilingStart < 1 || c.CeilingStep <= 0 || c.CeilingDuration < 20*time.Second) {
		return fmt.Errorf("bench: the ceiling scenario needs a start rate, a step and at least 20 s of load")
	}
	if c.wants(ScenarioBurst) && (c.BurstChildren < 1 || c.BurstPerMulti < 1) {
		return fmt.Errorf("bench: the burst scenario needs children and a transaction size")
	}
	if c.wants(ScenarioWorkload) && (c.WorkloadRate < 0 || c.WorkloadDuration <= 0 || c.WorkloadSize < workload.MinSize) {
		return fmt.Errorf("bench: the workload scenario needs a rate (0 or more), a duration and a base of at least %d znodes", workload.MinSize)
	}
	if c.wants(ScenarioBacklog) && (c.Backlog < 1 || c.BacklogRate < 1) {
		return fmt.Errorf("bench: the backlog scenario needs a backlog size and a rate")
	}
	if (c.wants(ScenarioSwitchover) || c.wants(ScenarioPromote)) && (c.DrillRate < 1 || c.DrillPaths < 32) {
		return fmt.Errorf("bench: the drills need a rate and at least 32 leaves to write")
	}
	if c.wants(ScenarioSwitchover) && c.Drills < 1 {
		return fmt.Errorf("bench: the switchover scenario needs at least one drill")
	}
	if c.SourceProcess && (len(c.Scenarios) != 1 || c.Scenarios[0] != ScenarioSeed) {
		return fmt.Errorf("bench: the source runs as a process only when the seed is the only scenario")
	}
	if c.SerialCopy && c.SerialCap <= 0 {
		return fmt.Errorf("bench: the serial copy needs a cap")
	}
	return nil
}

func (c Config) wants(scenario string) bool { return slices.Contains(c.Scenarios, scenario) }

// wantsZkdrPair says whether a scenario runs on the zkdr pair the seed
// builds (every one but the workload, which has a pair of its own).
func (c Config) wantsZkdrPair() bool {
	return slices.ContainsFunc(c.Scenarios, func(s string) bool { return s != ScenarioWorkload })
}

// treeSize is how many nodes zkbench load makes under Root: the leaves, their
// parents, and Root itself.
func (c Config) treeSize() int { return c.Nodes + (c.Nodes+c.Fanout-1)/c.Fanout + 1 }
