package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// claimOwner makes the caller the applier that owns the standby and returns
// the fencing token (zkpath.Owner's version) its Multis must check.
func claimOwner(conn *zk.Conn) (int32, error) {
	for {
		st, err := conn.Set(zkpath.Owner, nil, -1)
		if err == nil {
			return st.Version, nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return 0, fmt.Errorf("claim %s: %w", zkpath.Owner, err)
		}
		for _, p := range []string{zkpath.Root, zkpath.Owner} {
			if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return 0, fmt.Errorf("create %s: %w", p, err)
			}
		}
	}
}

// Checkpoint is the applier's position, stored as JSON in /zkdr/applied and
// written in the same Multi as the changes it covers.
type Checkpoint struct {
	Stream string `json:"stream"`
	// Seq is the last journal sequence whose events are applied.
	Seq uint64 `json:"seq"`
	// Epoch is the highest epoch applied; events of a lower one are refused.
	Epoch uint64 `json:"epoch"`
	// WatermarkZxid and WatermarkTime (unix nanoseconds) are the last heartbeat
	// applied: the standby holds every primary change with zxid <= WatermarkZxid.
	WatermarkZxid int64 `json:"watermark_zxid"`
	WatermarkTime int64 `json:"watermark_time"`
	// Applied counts the events applied over the checkpoint's life.
	Applied uint64 `json:"applied"`
	// Snapshot is set between a snapshot-begin and its snapshot-end.
	Snapshot *SnapshotMark `json:"snapshot,omitempty"`
	// PadDebt lists sequence counters (standby parent -> counter) still to be
	// raised after this checkpoint, when the padding did not fit its Multi.
	PadDebt map[string]int32 `json:"pad_debt,omitempty"`
	// Skipped lists messages moved past with SkipMessage.
	Skipped []SkippedMessage `json:"skipped,omitempty"`
	// Resync is set from a retention gap until the snapshot-end of a snapshot
	// begun after the gap is applied.
	Resync *ResyncState `json:"resync,omitempty"`
	// Guard is the delete guard's window over recent primary history.
	Guard *GuardWindow `json:"guard,omitempty"`
	// Updated is when the checkpoint was written.
	Updated time.Time `json:"updated"`

	// Version is the znode version the checkpoint was read at (not stored).
	Version int32 `json:"-"`
}

// SnapshotMark records an open snapshot: after a restart the applier reads
// again from BeginSeq to learn which paths the snapshot mentioned (without
// applying what is already applied), so its snapshot-end still deletes exactly
// the unmentioned nodes.
type SnapshotMark struct {
	ID       uint64 `json:"id"`
	BeginSeq uint64 `json:"begin_seq"`
}

// ResyncState records that the journal lost sequences the standby had not
// applied. Until a snapshot begun after the gap has ended, the applier applies
// nothing before that snapshot's begin and holds the watermark: the standby
// holds only what it held at the gap.
type ResyncState struct {
	// GapAt is the first sequence the journal no longer held.
	GapAt uint64 `json:"gap_at"`
	// FirstAvailable is the first sequence the journal held when the gap was
	// met (0 if unknown).
	FirstAvailable uint64 `json:"first_available,omitempty"`
	// Since is when the gap was met.
	Since time.Time `json:"since"`
}

// String is the state as status shows it.
func (r *ResyncState) String() string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("resyncing after retention gap at seq %d", r.GapAt)
}

// SkippedMessage is one message moved past by an operator.
type SkippedMessage struct {
	Seq    uint64    `json:"seq"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// WatermarkAt is the watermark's primary time.
func (c Checkpoint) WatermarkAt() time.Time {
	if c.WatermarkTime == 0 {
		return time.Time{}
	}
	return time.Unix(0, c.WatermarkTime)
}

func (c Checkpoint) clone() Checkpoint {
	out := c
	if c.Snapshot != nil {
		s := *c.Snapshot
		out.Snapshot = &s
	}
	if c.Resync != nil {
		r := *c.Resync
		out.Resync = &r
	}
	out.Skipped = append([]SkippedMessage(nil), c.Skipped...)
	out.Guard = c.Guard.clone()
	out.PadDebt = nil // a debt belongs to the checkpoint that recorded it
	return out
}

func (c Checkpoint) encode() []byte {
	c.Updated = time.Now().UTC()
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// skipped reports whether seq was moved past by an operator.
func (c Checkpoint) skipped(seq uint64) bool {
	for _, s := range c.Skipped {
		if s.Seq == seq {
			return true
		}
	}
	return false
}

// ReadCheckpoint reads the applier checkpoint of the ensemble conn is connected
// to. It returns an error wrapping ErrNoCheckpoint when none was written yet.
func ReadCheckpoint(ctx context.Context, conn *zk.Conn) (Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, err
	}
	data, st, err := conn.Get(zkpath.Checkpoint)
	if errors.Is(err, zk.ErrNoNode) {
		return Checkpoint{}, fmt.Errorf("%w: %s does not exist", ErrNoCheckpoint, zkpath.Checkpoint)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("read checkpoint: %w", err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %s: %w", ErrBadCheckpoint, zkpath.Checkpoint, err)
	}
	cp.Version = st.Version
	return cp, nil
}

// loadCheckpoint reads the checkpoint, creating an empty one for stream on a
// standby that has none. A checkpoint of another stream is refused: its
// sequence means nothing in this stream.
func loadCheckpoint(ctx context.Context, conn *zk.Conn, stream string) (Checkpoint, error) {
	for {
		cp, err := ReadCheckpoint(ctx, conn)
		if err == nil {
			if cp.Stream != stream {
				return Checkpoint{}, fmt.Errorf("%w: %s belongs to stream %q, not %q", ErrBadCheckpoint, zkpath.Checkpoint, cp.Stream, stream)
			}
			return cp, nil
		}
		if !errors.Is(err, ErrNoCheckpoint) {
			return Checkpoint{}, err
		}
		if _, err := conn.Create(zkpath.Root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return Checkpoint{}, fmt.Errorf("create %s: %w", zkpath.Root, err)
		}
		fresh := Checkpoint{Stream: stream}
		// Readable by all (zkdr status), writable only by the applier's identity
		// when one is set.
		if _, err := conn.Create(zkpath.Checkpoint, fresh.encode(), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return Checkpoint{}, fmt.Errorf("create checkpoint: %w", err)
		}
		// Read it back (another applier may have won the create).
	}
}

// resyncing reports whether the applier is skipping messages until a snapshot
// begins: a gap was met and no snapshot begun after it is open.
func (c Checkpoint) resyncing() bool { return c.Resync != nil && c.Snapshot == nil }

// checkpointOp is the Multi op that moves the checkpoint from version v.
func checkpointOp(cp Checkpoint) *zk.SetDataRequest {
	return &zk.SetDataRequest{Path: zkpath.Checkpoint, Data: cp.encode(), Version: cp.Version}
}

// SkipMessage moves the checkpoint of stream past the undecodable message seq
// (which must be the next one to apply) and records that it did, with reason,
// in the checkpoint's skipped history. The applier must be stopped or stopped
// on that message; a running applier that moved meanwhile is detected by the
// version check.
func SkipMessage(ctx context.Context, conn *zk.Conn, stream string, seq uint64, reason string) error {
	cp, err := loadCheckpoint(ctx, conn, stream)
	if err != nil {
		return err
	}
	if seq != cp.Seq+1 {
		return fmt.Errorf("%w: sequence %d is not the next to apply (checkpoint at %d)", ErrSkipRefused, seq, cp.Seq)
	}
	if reason == "" {
		reason = "skipped by operator"
	}
	next := cp.clone()
	next.Seq = seq
	next.Skipped = append(next.Skipped, SkippedMessage{Seq: seq, Reason: reason, At: time.Now().UTC()})
	if _, err := conn.Set(zkpath.Checkpoint, next.encode(), cp.Version); err != nil {
		if errors.Is(err, zk.ErrBadVersion) {
			return fmt.Errorf("%w: checkpoint moved while skipping", ErrFenced)
		}
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// WaitCheckpointPast blocks until the checkpoint's sequence reaches seq (for
// example once an operator skipped an undecodable message) or ctx ends. It
// watches /zkdr/applied and also reads it every few seconds, so a watch lost
// with a connection does not leave it waiting.
func WaitCheckpointPast(ctx context.Context, conn *zk.Conn, seq uint64) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var ch <-chan zk.Event // the pending watch; nil when none is set
	for {
		var data []byte
		var err error
		if ch == nil {
			data, _, ch, err = conn.GetW(zkpath.Checkpoint)
		} else {
			data, _, err = conn.Get(zkpath.Checkpoint)
		}
		if err == nil {
			var cp Checkpoint
			if jerr := json.Unmarshal(data, &cp); jerr == nil && cp.Seq >= seq {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
			ch = nil
		case <-t.C:
		}
	}
}
