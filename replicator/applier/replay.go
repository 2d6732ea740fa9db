package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// replayTagPrefix starts the stream name a replay's applier checkpoints under.
const replayTagPrefix = "replay of "

// ReplayCheckpointStream is the stream name a replay into root writes in the
// target's /zkdr/applied. It is not a stream name (it has spaces), so no
// standby applier and no switchover takes a replayed cluster for a standby of
// the journal, and a replay into another chroot of the same ensemble can tell
// the checkpoint is not its own.
func ReplayCheckpointStream(stream, root string) string {
	return replayTagPrefix + stream + " into " + root
}

// ReplayConfig configures a Replay.
type ReplayConfig struct {
	// Stream is the journal read: a site's stream or its local mirror.
	Stream string
	// Servers, SessionTimeout and Auth reach the target ensemble; Auth is
	// digest "user:password" (never logged).
	Servers        []string
	SessionTimeout time.Duration
	Auth           string
	// Root is the target chroot the tree is written under ("/" for the whole
	// ensemble).
	Root string
	// Scope is the part of the source tree replayed (source paths).
	Scope zkpath.Scope
	// Until is where the replay stops.
	Until journal.Point
	// Force replays into a target that holds nodes: in-scope nodes the
	// snapshot does not name are deleted, as a standby's snapshot-end does.
	Force bool
	// Site names the site whose config runs the replay (logs only).
	Site string
	// MaxBatchOps and MaxBatchBytes bound each Multi (see Config).
	MaxBatchOps   int
	MaxBatchBytes int
	Logger        hclog.Logger
}

// DefaultReplayConfig replays the whole ensemble to the latest point.
func DefaultReplayConfig() ReplayConfig {
	a := DefaultConfig()
	return ReplayConfig{Root: "/", SessionTimeout: a.SessionTimeout, MaxBatchOps: a.MaxBatchOps, MaxBatchBytes: a.MaxBatchBytes}
}

// Validate reports a config a replay cannot run with; Auth never appears.
func (c ReplayConfig) Validate() error {
	if c.Stream == "" {
		return fmt.Errorf("%w: replay stream is empty", ErrInvalidConfig)
	}
	if err := (zkconn.Config{Servers: c.Servers, SessionTimeout: c.SessionTimeout, Auth: c.Auth}).Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.Root == "" || c.Root[0] != '/' || path.Clean(c.Root) != c.Root {
		return fmt.Errorf("%w: replay root %q is not an absolute clean path", ErrInvalidConfig, c.Root)
	}
	for _, e := range zkpath.AlwaysExcluded() {
		if zkpath.Under(c.Root, e) {
			return fmt.Errorf("%w: replay root %q is inside %s", ErrInvalidConfig, c.Root, e)
		}
	}
	if err := c.Scope.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// ReplayProgress is how far a running replay is.
type ReplayProgress struct {
	// Phase is "preparing", "snapshot" (applying the snapshot's span),
	// "events" (the events after it) or "done".
	Phase    string
	Snapshot journal.SnapshotInfo
	Nodes    int    // replicated nodes on the target
	Events   uint64 // events applied
	// AppliedSeq is the last sequence applied; LastSeq the most the replay
	// will read (the stream's end when it started).
	AppliedSeq uint64
	LastSeq    uint64
}

// ReplaySnapshot is the snapshot a replay started from.
type ReplaySnapshot struct {
	ID       uint64    `json:"id"`
	BeginSeq uint64    `json:"begin_seq"`
	EndSeq   uint64    `json:"end_seq"`
	EndTime  time.Time `json:"end_time"`
	EndZxid  int64     `json:"end_zxid"`
	Nodes    int64     `json:"nodes"`
}

// ReplayRecord is what a replay did; it is also the JSON of zkpath.ReplayRecord on
// the target.
type ReplayRecord struct {
	Stream string `json:"stream"`
	Root   string `json:"root"`
	// Checkpoint is the stream name the replay's /zkdr/applied carries.
	Checkpoint string         `json:"checkpoint_stream"`
	Point      string         `json:"point"`
	Snapshot   ReplaySnapshot `json:"snapshot"`
	// FirstSeq..LastSeq were read; LastSeq is the last sequence applied.
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// PointAfterEnd is set when the point lies after the journal's end (when
	// the replay started): the replay stopped at the end.
	PointAfterEnd bool   `json:"point_after_end,omitempty"`
	Events        uint64 `json:"events"`
	Nodes         int    `json:"nodes"`
	// LastZxid is the largest zxid (or mzxid) of the events applied, and
	// LastTime when the journal stored the last message applied: the tree is
	// the primary's as of then.
	LastZxid      int64     `json:"last_zxid"`
	LastTime      time.Time `json:"last_time"`
	WatermarkZxid int64     `json:"watermark_zxid"`
	WatermarkTime time.Time `json:"watermark_time,omitzero"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished,omitzero"`
	Seconds       float64   `json:"seconds"`
	// Complete is false while the replay runs (or after it was interrupted).
	Complete bool `json:"complete"`
}

// Replay rebuilds a tree in a target ensemble from a journal: from the newest
// complete snapshot that ends at or before the point, then the events up to
// it, written by an Applier (the same code a standby applies with: ACLs,
// modes, TTLs, sequence counters, batching). See docs/replay.md.
type Replay struct {
	cfg ReplayConfig
	js  jetstream.JetStream
	log hclog.Logger

	mu       sync.Mutex
	progress ReplayProgress
}

// NewReplay validates cfg; it starts nothing.
func NewReplay(cfg ReplayConfig, js jetstream.JetStream) (*Replay, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if js == nil {
		return nil, fmt.Errorf("%w: replay has no jetstream", ErrInvalidConfig)
	}
	return &Replay{cfg: cfg, js: js, log: cfg.Logger.Named("replay").With("stream", cfg.Stream, "root", cfg.Root),
		progress: ReplayProgress{Phase: "preparing"}}, nil
}

// Progress returns how far the replay is; safe from any goroutine.
func (r *Replay) Progress() ReplayProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progress
}

// Run replays and returns what it did. Unlike a daemon's Run it is a job: it
// returns when the point is applied, and an interrupted replay (ctx ended)
// is an error, since the target then holds a partial tree.
func (r *Replay) Run(ctx context.Context) (*ReplayRecord, error) {
	cfg := r.cfg
	rec := &ReplayRecord{Stream: cfg.Stream, Root: cfg.Root, Checkpoint: ReplayCheckpointStream(cfg.Stream, cfg.Root),
		Point: cfg.Until.String(), Started: time.Now().UTC()}
	s, err := r.js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Stream, err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		return nil, fmt.Errorf("%w: stream %s is empty", ErrReplay, cfg.Stream)
	}
	snaps, err := journal.ListSnapshots(ctx, r.js, cfg.Stream)
	if err != nil {
		return nil, err
	}
	point := cfg.Until
	switch point.Kind {
	case journal.PointLatest:
		point = journal.Point{Kind: journal.PointSeq, Seq: st.LastSeq}
	case journal.PointSeq:
		if point.Seq > st.LastSeq {
			point.Seq, rec.PointAfterEnd = st.LastSeq, true
		}
	case journal.PointTime:
		rec.PointAfterEnd = point.Time.After(st.LastTime)
	}
	snap, err := journal.ChooseSnapshot(snaps, st.FirstSeq, point)
	if err != nil {
		return nil, fmt.Errorf("%w: stream %s: %w", ErrReplay, cfg.Stream, err)
	}
	rec.Snapshot = ReplaySnapshot{ID: snap.ID, BeginSeq: snap.BeginSeq, EndSeq: snap.EndSeq, EndTime: snap.EndTime,
		EndZxid: snap.EndZxid, Nodes: snap.Nodes}
	rec.FirstSeq = snap.BeginSeq
	r.log.Info("replay planned", "point", cfg.Until, "snapshot", snap.ID, "begin-seq", snap.BeginSeq, "end-seq", snap.EndSeq,
		"last-seq", st.LastSeq)

	conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: cfg.Servers, SessionTimeout: cfg.SessionTimeout, Auth: cfg.Auth}, r.log.Named("zk"))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := r.prepareTarget(ctx, conn, rec.Checkpoint); err != nil {
		return nil, err
	}
	if err := writeReplayRecord(conn, rec); err != nil {
		return nil, err
	}

	cut := &replayCut{point: point, begin: snap.BeginSeq, after: snap.EndSeq, last: st.LastSeq}
	ap, err := New(r.applierConfig(rec.Checkpoint, cut))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.progress = ReplayProgress{Phase: "snapshot", Snapshot: snap, LastSeq: st.LastSeq}
	r.mu.Unlock()
	stats, err := r.apply(ctx, ap, cut, snap)
	if err != nil {
		return nil, err
	}
	end, _ := cut.end()
	cut.mu.Lock()
	rec.LastZxid, rec.LastTime = cut.lastZxid, cut.lastTime.UTC()
	cut.mu.Unlock()
	rec.LastSeq, rec.Events, rec.Nodes = end, stats.EventsApplied, stats.Replicated
	rec.WatermarkZxid = stats.WatermarkZxid
	if !stats.WatermarkTime.IsZero() {
		rec.WatermarkTime = stats.WatermarkTime.UTC()
	}
	rec.Finished = time.Now().UTC()
	rec.Seconds = rec.Finished.Sub(rec.Started).Seconds()
	rec.Complete = true
	if err := writeReplayRecord(conn, rec); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.progress.Phase = "done"
	r.mu.Unlock()
	r.log.Info("replay done", "snapshot", snap.ID, "last-seq", end, "events", rec.Events, "nodes", rec.Nodes,
		"last-zxid", fmt.Sprintf("%#x", rec.LastZxid), "took", time.Duration(rec.Seconds*float64(time.Second)).Round(time.Millisecond))
	return rec, nil
}

func (r *Replay) applierConfig(tag string, cut *replayCut) Config {
	cfg := r.cfg
	a := DefaultConfig()
	a.Site, a.Stream = cfg.Site, tag
	if a.Site == "" {
		a.Site = "replay"
	}
	a.Servers, a.SessionTimeout, a.Auth = cfg.Servers, cfg.SessionTimeout, cfg.Auth
	a.MaxBatchOps, a.MaxBatchBytes = cfg.MaxBatchOps, cfg.MaxBatchBytes
	// A replay builds a tree from nothing, or replaces one on --force: the
	// delete guard protects a standby from a bad primary, not this.
	a.DeleteGuardShare, a.DeleteGuardMinNodes = 1, 0
	// The target is no site's standby: zkdr status has no row for it.
	a.StageReportInterval = 0
	a.Scope = cfg.Scope
	if cfg.Root != "/" {
		a.Mapping = []zkpath.PathMap{{From: "/", To: cfg.Root}}
	}
	a.Logger = r.log
	a.OpenReader = func(ctx context.Context, startSeq uint64) (JournalReader, error) {
		// The applier asks for the sequence after its checkpoint (1 on a fresh
		// target): nothing before the snapshot's begin is read.
		startSeq = max(startSeq, cut.begin)
		jr, err := journal.NewReader(r.js, journal.ReaderConfig{Stream: cfg.Stream, StartSeq: startSeq, Logger: r.log.Named("reader")})
		if err != nil {
			return nil, err
		}
		return &cutReader{r: jr, cut: cut}, nil
	}
	return a
}

// apply runs the applier until it has applied the cut's last sequence.
func (r *Replay) apply(ctx context.Context, ap *Applier, cut *replayCut, snap journal.SnapshotInfo) (Stats, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ap.Run(actx) }()
	stop := func() { cancel(); <-done }
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return Stats{}, fmt.Errorf("%w interrupted: the target holds a partial tree: %w", ErrReplay, ctx.Err())
			}
			return Stats{}, fmt.Errorf("%w: applier stopped: %w", ErrReplay, err)
		case <-ctx.Done():
			stop()
			return Stats{}, fmt.Errorf("%w interrupted: the target holds a partial tree: %w", ErrReplay, ctx.Err())
		case <-t.C:
		}
		if gap := cut.failed(); gap != nil {
			stop()
			return Stats{}, fmt.Errorf("%w: retention dropped messages of %s while the replay read them; replay to a later point or from a newer snapshot: %w",
				ErrReplay, r.cfg.Stream, gap)
		}
		st := ap.Stats()
		r.mu.Lock()
		r.progress.Nodes, r.progress.Events, r.progress.AppliedSeq = st.Replicated, st.EventsApplied, st.AppliedSeq
		if st.AppliedSeq >= snap.EndSeq {
			r.progress.Phase = "events"
		}
		r.mu.Unlock()
		if end, ok := cut.end(); ok && st.AppliedSeq >= end {
			stop()
			st = ap.Stats()
			if st.Resync != nil {
				return st, fmt.Errorf("%w: the journal lost messages the replay needed (%s)", ErrReplay, st.Resync)
			}
			return st, nil
		}
	}
}

// prepareTarget refuses a target that holds nodes (unless Force) or that
// another applier uses, clears a finished or abandoned replay's checkpoint,
// and creates the root.
func (r *Replay) prepareTarget(ctx context.Context, conn *zk.Conn, tag string) error {
	root := r.cfg.Root
	kids, _, err := conn.Children(root)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("list target %s: %w", root, err)
	}
	if root == "/" {
		// /zookeeper is the server's own. /zkdr holding nothing but a replay's
		// state (its checkpoint, checked below, its record and the applier's
		// owner token) is not content either; anything else in it (a site
		// record) is, and a standby's checkpoint is refused below.
		zkdrKids, _, err := conn.Children(zkpath.Root)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("list target %s: %w", zkpath.Root, err)
		}
		onlyReplay := !slices.ContainsFunc(zkdrKids, func(k string) bool { return k != "applied" && k != "replay" && k != "owner" })
		kids = slices.DeleteFunc(kids, func(k string) bool { return k == "zookeeper" || k == "zkdr" && onlyReplay })
	}
	slices.Sort(kids)
	cp, err := ReadCheckpoint(ctx, conn)
	switch {
	case errors.Is(err, ErrNoCheckpoint):
	case errors.Is(err, ErrBadCheckpoint) && r.cfg.Force:
		if err := deleteCheckpoint(conn, -1); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("%w: %w", ErrTargetInUse, err)
	case !strings.HasPrefix(cp.Stream, replayTagPrefix):
		return fmt.Errorf("%w: the target ensemble's %s is the checkpoint of a standby applying %s; a replay there would fight that applier: replay into another ensemble",
			ErrTargetInUse, zkpath.Checkpoint, cp.Stream)
	default:
		prev, _ := readReplayRecord(conn)
		finished := prev != nil && prev.Complete && prev.Checkpoint == cp.Stream
		switch {
		case r.cfg.Force || (finished && cp.Stream != tag):
			// A finished replay into another root, or one the operator takes over.
			if err := deleteCheckpoint(conn, cp.Version); err != nil {
				return err
			}
		case cp.Stream == tag:
			if len(kids) == 0 {
				kids = []string{"(an earlier replay's checkpoint)"}
			}
		default:
			return fmt.Errorf("%w: %s belongs to %q, which has not finished (still running, or interrupted); --force takes it over",
				ErrTargetInUse, zkpath.Checkpoint, cp.Stream)
		}
	}
	if len(kids) > 0 && !r.cfg.Force {
		shown := kids
		if len(shown) > 5 {
			shown = append(shown[:5:5], "...")
		}
		return fmt.Errorf("%w: %s holds %d children (%s); a replay builds a fresh tree: use an empty target or --force to replace what is in scope",
			ErrTargetNotEmpty, root, len(kids), strings.Join(shown, ", "))
	}
	if root != "/" {
		return createPath(conn, root)
	}
	return nil
}

func deleteCheckpoint(conn *zk.Conn, version int32) error {
	if err := conn.Delete(zkpath.Checkpoint, version); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("clear the earlier replay's %s: %w", zkpath.Checkpoint, err)
	}
	return nil
}

// createPath creates p and its missing parents as plain open nodes.
func createPath(conn *zk.Conn, p string) error {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		if _, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}

// ReadReplayRecord reads the record of the last replay into the ensemble conn
// is connected to; nil when there is none.
func ReadReplayRecord(conn *zk.Conn) (*ReplayRecord, error) { return readReplayRecord(conn) }

func readReplayRecord(conn *zk.Conn) (*ReplayRecord, error) {
	data, _, err := conn.Get(zkpath.ReplayRecord)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", zkpath.ReplayRecord, err)
	}
	var rec ReplayRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("read %s: %w", zkpath.ReplayRecord, err)
	}
	return &rec, nil
}

func writeReplayRecord(conn *zk.Conn, rec *ReplayRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode replay record: %w", err)
	}
	if err := createPath(conn, zkpath.Root); err != nil {
		return err
	}
	if _, err := conn.Set(zkpath.ReplayRecord, data, -1); errors.Is(err, zk.ErrNoNode) {
		_, err = conn.Create(zkpath.ReplayRecord, data, 0, zk.WorldACL(zk.PermAll))
		if err != nil {
			return fmt.Errorf("write %s: %w", zkpath.ReplayRecord, err)
		}
	} else if err != nil {
		return fmt.Errorf("write %s: %w", zkpath.ReplayRecord, err)
	}
	return nil
}
