package applier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// fetchFailed turns a reader error into the applier's: poison is permanent, a
// gap starts a resync, the rest is retried.
func (r *run) fetchFailed(ctx context.Context, err error) error {
	a := r.a
	var de *journal.DecodeError
	switch {
	case errors.As(err, &de):
		a.log.Error("undecodable journal message; skip it with `zkdr journal skip --seq N` once understood", "journal-seq", de.Seq, "error", err)
		return stopAt("decode", "", de.Seq, fmt.Errorf("%w: stream %s sequence %d: %w", ErrPoisonMessage, a.cfg.Stream, de.Seq, err))
	case errors.Is(err, journal.ErrRetentionGap):
		missing := r.startSeq
		if r.readTo > 0 {
			missing = r.readTo + 1
		}
		return r.enterResync(ctx, missing, err)
	default:
		return fmt.Errorf("read journal: %w", err)
	}
}

// errResync ends a pass that has just recorded a retention gap; Run starts the
// next pass at once.
var errResync = errors.New("applier: resync started")

// enterResync records a retention gap at sequence missing in the checkpoint
// (version-checked like every checkpoint write) and ends the pass. The next
// pass reads from the first message held, skips everything before the first
// snapshot-begin, and asks the active site for that snapshot. Its snapshot-end
// deletes whatever the gap hid a delete of, and clears the state. Skipping
// silently would leave the standby with changes missing and a watermark that
// claims otherwise.
func (r *run) enterResync(ctx context.Context, missing uint64, cause error) error {
	a := r.a
	if r.committed.resyncing() {
		// Still waiting for the snapshot, and retention moved on under the
		// reader: read again from the new first message.
		return fmt.Errorf("%w: stream %s, while resyncing after the gap at sequence %d: %w",
			ErrJournalGap, a.cfg.Stream, r.committed.Resync.GapAt, cause)
	}
	first := a.firstAvailable(ctx)
	gapErr := fmt.Errorf("%w: stream %s no longer holds sequence %d (first available %d): %w",
		ErrJournalGap, a.cfg.Stream, missing, first, cause)
	a.log.Error("journal no longer holds the next sequence; resyncing the standby from a fresh snapshot, nothing after the gap is applied before that snapshot begins",
		"missing-seq", missing, "first-available", first, "applied-seq", r.committed.Seq, "error", cause)
	next := r.committed.clone()
	next.Resync = &ResyncState{GapAt: missing, FirstAvailable: first, Since: time.Now().UTC()}
	// An open snapshot cannot end well: its mentions after the gap are lost,
	// and its end would delete nodes it did mention.
	next.Snapshot = nil
	st, err := r.conn.Set(zkpath.Checkpoint, next.encode(), r.committed.Version)
	if errors.Is(err, zk.ErrBadVersion) {
		return stopAt("record a retention gap", zkpath.Checkpoint, missing, fmt.Errorf("%w: %s moved while recording a retention gap", ErrFenced, zkpath.Checkpoint))
	}
	if err != nil {
		return fmt.Errorf("record retention gap in checkpoint: %w", err)
	}
	r.committed = next
	r.committed.Version = st.Version
	r.resync = true
	r.publish(0, 0)
	a.mu.Lock()
	a.stats.LastError = gapErr.Error()
	a.mu.Unlock()
	return errResync
}

// firstAvailable asks the journal for its first sequence; 0 when it cannot tell.
func (a *Applier) firstAvailable(ctx context.Context) uint64 {
	rd, err := a.cfg.OpenReader(ctx, 0)
	if err != nil {
		return 0
	}
	defer func() { _ = rd.Close() }()
	br, ok := rd.(boundedReader)
	if !ok {
		return 0
	}
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	first, _, err := br.Bounds(bctx)
	if err != nil {
		return 0
	}
	return first
}

// requestSnapshot asks the active site for the resync snapshot of the gap at
// sequence gap, once per gap in this process.
func (a *Applier) requestSnapshot(ctx context.Context, gap uint64) error {
	reason := fmt.Sprintf("site %s: retention gap in %s at sequence %d", a.cfg.Site, a.cfg.Stream, gap)
	a.log.Info("asking the active site for a snapshot", "gap-at", gap)
	if err := a.cfg.RequestSnapshot(ctx, reason); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("request a snapshot from the active site: %w", err)
	}
	a.mu.Lock()
	a.requestedFor = gap
	a.stats.SnapshotRequested = time.Now()
	a.mu.Unlock()
	a.log.Info("asked the active site for a snapshot", "gap-at", gap)
	return nil
}

func hasSnapshotBegin(m journal.Message) bool {
	for i := range m.Events {
		if m.Events[i].Kind == journal.KindSnapshotBegin {
			return true
		}
	}
	return false
}
