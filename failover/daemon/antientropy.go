package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
)

// AntiEntropyPath holds, in the standby's own /zkdr subtree (never
// replicated), the standby daemon's last anti-entropy pass as JSON
// (AntiEntropyStatus); `zkdr status` reads it there.
const AntiEntropyPath = zkpath.AntiEntropy

// AntiEntropyConfig configures an AntiEntropy.
type AntiEntropyConfig struct {
	// Site is the standby site; Peer the active one. For logs only.
	Site, Peer string
	// Interval is the pause between two passes (the first starts after
	// Interval or a minute, whichever is shorter).
	Interval time.Duration
	// ReadsPerSecond bounds the ZooKeeper requests of a pass on each ensemble.
	ReadsPerSecond int
	// Active reaches the active (peer) ensemble, Standby this site's. Their
	// Auth must be allowed to read every replicated node; nodes it may not read
	// are left out and counted as unreadable. Never logged.
	Active, Standby zkconn.Config
	// Scope and Mapping are the replication's, in source paths.
	Scope   zkpath.Scope
	Mapping []zkpath.PathMap
	// Watermark, if set, returns the watermark zxid of the applier running in
	// this process; a pass waits on it before it reads the checkpoint, which
	// spares the standby reads while the applier catches up.
	Watermark func() int64
	// WaitTimeout bounds each wait for the active site's next heartbeat and
	// for the standby's watermark to pass it; a pass that waits longer fails.
	WaitTimeout time.Duration
	// ChunkNodes is how many active nodes a chunk reads before the standby
	// side of the chunk is read (default ten seconds of reads, at least 500).
	ChunkNodes int
	// MaxPaths bounds the divergent paths a report lists.
	MaxPaths int
	Logger   hclog.Logger
}

// DefaultAntiEntropyConfig returns the defaults of configs.AntiEntropy and
// the knobs the config file does not show.
func DefaultAntiEntropyConfig() AntiEntropyConfig {
	return AntiEntropyConfig{Interval: 10 * time.Minute, ReadsPerSecond: 200, WaitTimeout: 2 * time.Minute, MaxPaths: 10}
}

// Validate checks the config; it never reveals credentials.
func (c AntiEntropyConfig) Validate() error {
	switch {
	case c.Interval <= 0:
		return fmt.Errorf("%w: anti-entropy interval must be positive", ErrInvalidConfig)
	case c.ReadsPerSecond < 1:
		return fmt.Errorf("%w: anti-entropy reads per second must be at least 1", ErrInvalidConfig)
	case c.WaitTimeout <= 0:
		return fmt.Errorf("%w: anti-entropy wait timeout must be positive", ErrInvalidConfig)
	}
	if err := c.Active.Validate(); err != nil {
		return fmt.Errorf("anti-entropy active ensemble: %w", err)
	}
	if err := c.Standby.Validate(); err != nil {
		return fmt.Errorf("anti-entropy standby ensemble: %w", err)
	}
	return c.Scope.Validate()
}

// AntiEntropyNode is one node an anti-entropy pass found to differ.
type AntiEntropyNode struct {
	// Path is the source path; StandbyPath is set when the mapping moves it.
	Path        string `json:"path"`
	StandbyPath string `json:"standby_path,omitempty"`
	// What is missing (on the standby), extra (only on the standby), data,
	// acl or mode. Never the data or the ACL entries themselves.
	What string `json:"what"`
}

func (n AntiEntropyNode) String() string { return n.Path + " (" + n.What + ")" }

// AntiEntropyReport is the outcome of one complete pass.
type AntiEntropyReport struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// NodesCompared counts the replicated nodes read on either side.
	NodesCompared int `json:"nodes_compared"`
	// Divergent counts the nodes confirmed to differ.
	Divergent int `json:"divergent"`
	// Unsettled counts differences seen while the active node was changing:
	// not divergence, and not counted in Divergent; the next pass looks again.
	Unsettled int `json:"unsettled"`
	// Unreadable counts subtrees one side's credentials may not read.
	Unreadable int `json:"unreadable,omitempty"`
	// Paths lists the first divergent nodes (at most MaxPaths).
	Paths []AntiEntropyNode `json:"paths,omitempty"`
}

// Duration is how long the pass took.
func (r AntiEntropyReport) Duration() time.Duration { return r.Finished.Sub(r.Started) }

// PathList is the listed paths as one short string for logs and tables.
func (r AntiEntropyReport) PathList() string {
	s := make([]string, len(r.Paths))
	for i, p := range r.Paths {
		s[i] = p.String()
	}
	out := strings.Join(s, ", ")
	if r.Divergent > len(r.Paths) {
		out += fmt.Sprintf(", ... (%d more)", r.Divergent-len(r.Paths))
	}
	return out
}

// AntiEntropyStatus is what the standby daemon knows of its passes. The
// counters are this process's; Last survives restarts through AntiEntropyPath.
type AntiEntropyStatus struct {
	Site         string             `json:"site"`
	Passes       uint64             `json:"passes"`
	FailedPasses uint64             `json:"failed_passes"`
	Last         *AntiEntropyReport `json:"last,omitempty"`
	LastError    string             `json:"last_error,omitempty"`
	LastErrorAt  time.Time          `json:"last_error_at,omitzero"`
	Updated      time.Time          `json:"updated,omitzero"`
}

// AntiEntropy compares the replicated scope of the active and the standby
// ensembles in the background, at a low rate, and reports nodes that differ:
// what the journal cannot show, such as an ACL changed on the active site
// (ZooKeeper fires no watch for setACL), a write made directly on the standby,
// or a node deleted there.
//
// Both trees keep moving while they are read, so a pass reports a node only
// when the difference is certain. For each chunk of subtrees it
//
//  1. reads the active side (A1), keeping each node's stamp (czxid, version,
//     aversion, cversion, each from the reply that read that aspect);
//  2. waits for a heartbeat H written after A1: on A1's session the heartbeat
//     node still showed an older write, so H is above every zxid A1 saw;
//  3. waits until the standby's checkpoint, read on the session that then
//     reads the standby, has a watermark W >= H: the standby holds every
//     active change up to H, and (per-path order) no older state of any path;
//  4. reads the standby (B) and compares A1 with B by Merkle digest, then node
//     by node where the digests differ;
//  5. syncs the active session (so it sees at least what the leader had when B
//     was read) and re-reads, for each difference, the node (or for a node only
//     the standby has, the nearest ancestor A1 read): the difference counts
//     only if that node's stamp is unchanged.
//
// Why no false positive: a stamp field only grows and czxid changes with a
// re-create, so an unchanged stamp means the node held the A1 state from A1's
// read until after the sync, an interval that contains the moment B was read.
// At that moment the standby held every change up to H and none made after B
// (it cannot be ahead of the active site), so a correct standby showed exactly
// A1's state; for a node only the standby has, the unchanged ancestor had the
// same children throughout, so the active site had no such node then. A
// difference that survives is therefore on the standby, not in flight.
//
// An ACL changed on the active site before H is reported although the journal
// may still carry it later (the source's ACL recheck): the standby really
// lacks it until then.
//
// What it can miss: a node that changes on the active side between A1 and the
// re-read is not judged in that pass (counted as unsettled), so a node written
// more often than a chunk takes to read is never compared, nor is a node only
// the standby has under an active node whose children keep changing; a
// divergence that appears and is repaired between two passes; nodes a side's
// credentials may not read; standby ephemerals (the standby's own sessions'
// nodes). It compares data, ACL and mode, not stat fields such as versions or
// sequence counters. A pass whose waits time out (the active site's source is
// down, the applier is paused or resyncing) fails and is counted; nothing is
// reported from it.
type AntiEntropy struct {
	cfg AntiEntropyConfig
	log hclog.Logger
	m   zkpath.Mapper

	mu sync.Mutex // guards st
	st AntiEntropyStatus
}

// NewAntiEntropy validates cfg and returns an AntiEntropy; it starts nothing.
func NewAntiEntropy(cfg AntiEntropyConfig) (*AntiEntropy, error) {
	if cfg.MaxPaths <= 0 {
		cfg.MaxPaths = 10
	}
	if cfg.ChunkNodes <= 0 {
		cfg.ChunkNodes = max(500, 10*cfg.ReadsPerSecond)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &AntiEntropy{
		cfg: cfg, log: cfg.Logger,
		m:  zkpath.Mapper{Scope: cfg.Scope, Maps: cfg.Mapping},
		st: AntiEntropyStatus{Site: cfg.Site},
	}, nil
}

// Status returns what the passes so far found.
func (a *AntiEntropy) Status() AntiEntropyStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.st
	if st.Last != nil {
		l := *st.Last
		l.Paths = append([]AntiEntropyNode(nil), l.Paths...)
		st.Last = &l
	}
	return st
}

// Run makes a pass every Interval until ctx ends; it returns nil then. A
// failed pass is logged and counted, and the next one comes an Interval later.
func (a *AntiEntropy) Run(ctx context.Context) error {
	a.seed(ctx)
	t := time.NewTimer(min(a.cfg.Interval, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		a.passAndRecord(ctx)
		t.Reset(a.cfg.Interval)
	}
}

// seed takes the last pass recorded in the standby, so status and metrics
// show it across a restart of the daemon or a change of leader.
func (a *AntiEntropy) seed(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, a.dialTimeout())
	defer cancel()
	conn, err := zkconn.Dial(cctx, a.cfg.Standby, a.log.Named("zk"))
	if err != nil {
		return
	}
	defer conn.Close()
	defer context.AfterFunc(cctx, conn.Close)()
	if st, ok, err := ReadAntiEntropy(cctx, conn); err == nil && ok && st.Last != nil {
		a.mu.Lock()
		a.st.Last = st.Last
		a.mu.Unlock()
	}
}

func (a *AntiEntropy) dialTimeout() time.Duration {
	return 2 * max(a.cfg.Active.SessionTimeout, a.cfg.Standby.SessionTimeout)
}

// passAndRecord makes one pass, then logs, counts and stores its outcome.
func (a *AntiEntropy) passAndRecord(ctx context.Context) {
	stb, err := a.dial(ctx, a.cfg.Standby, "zk")
	if err != nil {
		a.fail(ctx, nil, fmt.Errorf("connect to the standby ensemble: %w", err))
		return
	}
	defer stb.Close()
	// ZooKeeper requests do not take a context: closing the session is what
	// ends one waiting on an unreachable ensemble when the daemon stops.
	defer context.AfterFunc(ctx, stb.Close)()
	rep, err := a.Pass(ctx, stb)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		a.fail(ctx, stb, err)
		return
	}
	a.mu.Lock()
	a.st.Passes++
	a.st.Last = &rep
	a.mu.Unlock()
	log := a.log.With("nodes-compared", rep.NodesCompared, "unsettled", rep.Unsettled, "took", rep.Duration().Round(time.Millisecond))
	if rep.Divergent > 0 {
		log.Warn("anti-entropy found nodes that differ between the sites", "divergent", rep.Divergent, "peer", a.cfg.Peer, "paths", rep.PathList())
	} else {
		log.Debug("anti-entropy pass found no divergence")
	}
	a.store(ctx, stb)
}

func (a *AntiEntropy) fail(ctx context.Context, stb *zk.Conn, err error) {
	a.mu.Lock()
	a.st.FailedPasses++
	a.st.LastError, a.st.LastErrorAt = err.Error(), time.Now().UTC()
	a.mu.Unlock()
	a.log.Warn("anti-entropy pass failed; the next one comes at the interval", "error", err, "interval", a.cfg.Interval)
	if stb != nil {
		a.store(ctx, stb)
	}
}

func (a *AntiEntropy) dial(ctx context.Context, z zkconn.Config, name string) (*zk.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, a.dialTimeout())
	defer cancel()
	return zkconn.Dial(cctx, z, a.log.Named(name))
}

// Pass compares the replicated scope once, reading the standby through stb
// (which it does not close) and the active site through a session of its own.
func (a *AntiEntropy) Pass(ctx context.Context, stb *zk.Conn) (AntiEntropyReport, error) {
	act, err := a.dial(ctx, a.cfg.Active, "peer-zk")
	if err != nil {
		return AntiEntropyReport{}, fmt.Errorf("connect to the active ensemble: %w", err)
	}
	defer act.Close()
	defer context.AfterFunc(ctx, act.Close)()
	burst := min(a.cfg.ReadsPerSecond, 10)
	p := &aePass{
		cfg: &a.cfg, m: a.m, act: act, stb: stb,
		pa:  rate.NewLimiter(rate.Limit(a.cfg.ReadsPerSecond), burst),
		ps:  rate.NewLimiter(rate.Limit(a.cfg.ReadsPerSecond), burst),
		rep: AntiEntropyReport{Started: time.Now().UTC()},
	}
	if err := p.run(ctx); err != nil {
		return AntiEntropyReport{}, err
	}
	p.rep.Finished = time.Now().UTC()
	return p.rep, nil
}

// store writes the status to AntiEntropyPath; a failure only costs status
// its freshness, so it is logged at debug level.
func (a *AntiEntropy) store(ctx context.Context, conn *zk.Conn) {
	st := a.Status()
	st.Updated = time.Now().UTC()
	data, err := json.Marshal(st)
	if err != nil {
		return
	}
	if err := ctx.Err(); err != nil {
		return
	}
	_, err = conn.Set(AntiEntropyPath, data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = conn.Create(AntiEntropyPath, data, 0, zk.WorldACL(zk.PermAll))
	}
	if err != nil {
		a.log.Debug("cannot record the anti-entropy pass in the standby", "path", AntiEntropyPath, "error", err)
	}
}

// ReadAntiEntropy reads the status a standby daemon recorded at
// AntiEntropyPath; ok is false when none was recorded.
func ReadAntiEntropy(ctx context.Context, conn *zk.Conn) (st AntiEntropyStatus, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return st, false, err
	}
	data, _, err := conn.Get(AntiEntropyPath)
	if errors.Is(err, zk.ErrNoNode) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read %s: %w", AntiEntropyPath, err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, false, fmt.Errorf("decode %s: %w", AntiEntropyPath, err)
	}
	return st, true, nil
}

// AntiEntropyStatus reports the anti-entropy of this daemon; ok is false
// while none runs (the site is not standby, this daemon does not lead it, or
// anti_entropy.interval is 0).
func (d *Daemon) AntiEntropyStatus() (AntiEntropyStatus, bool) {
	d.mu.Lock()
	ae := d.antiEntropy
	d.mu.Unlock()
	if ae == nil {
		return AntiEntropyStatus{}, false
	}
	return ae.Status(), true
}

// newAntiEntropy builds the standby's anti-entropy from the daemon's config;
// nil when anti_entropy.interval is 0.
func (d *Daemon) newAntiEntropy(watermark func() int64) (*AntiEntropy, error) {
	c := d.cfg.AntiEntropy
	if c.Interval <= 0 {
		return nil, nil
	}
	cfg := DefaultAntiEntropyConfig()
	cfg.Site, cfg.Peer = d.cfg.Site, d.cfg.Peer.Name
	cfg.Interval, cfg.ReadsPerSecond = c.Interval, c.ReadsPerSecond
	cfg.Active = zkConfigOf(d.cfg.Peer.ZooKeeper)
	cfg.Standby = d.zkConfig()
	cfg.Scope, cfg.Mapping = scopeOf(d.cfg), mappingOf(d.cfg)
	cfg.Watermark = watermark
	cfg.WaitTimeout = max(cfg.WaitTimeout, 20*d.cfg.Source.HeartbeatInterval)
	cfg.Logger = d.log.Named("anti-entropy")
	return NewAntiEntropy(cfg)
}
