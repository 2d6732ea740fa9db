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

// Guard states in /zkdr/guard.
const (
	GuardPaused   = "paused"
	GuardReleased = "released"
)

// GuardState is the JSON in /zkdr/guard while the delete guard holds a group
// of deletes. zkdr status shows it; ReleaseGuard flips State to released.
type GuardState struct {
	State  string `json:"state"`
	Stream string `json:"stream"`
	// FirstSeq is the message the applier holds at: everything before it is
	// applied. A release applies to the hold at FirstSeq, also after a
	// restart. LastSeq is the last message of the group as judged.
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// Deletes is how many weighed nodes the held group deletes, Replicated
	// the weighed nodes before it; Shrink is how far the tree would fall below
	// Peak, its largest weighed size in the window (see guard_rule.go).
	Deletes    int       `json:"deletes"`
	Replicated int       `json:"replicated"`
	Shrink     int       `json:"shrink"`
	Peak       int       `json:"peak"`
	Share      float64   `json:"share"`
	Window     string    `json:"window"`
	Sample     []string  `json:"sample,omitempty"`
	Since      time.Time `json:"since"`
	ReleasedAt time.Time `json:"released_at,omitzero"`
}

// readGuard returns the guard node's state and version; ok is false when there
// is none.
func readGuard(conn *zk.Conn) (g GuardState, version int32, ok bool, err error) {
	data, st, err := conn.Get(zkpath.Guard)
	if errors.Is(err, zk.ErrNoNode) {
		return GuardState{}, 0, false, nil
	}
	if err != nil {
		return GuardState{}, 0, false, fmt.Errorf("read %s: %w", zkpath.Guard, err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		return GuardState{}, 0, false, fmt.Errorf("decode %s: %w", zkpath.Guard, err)
	}
	return g, st.Version, true, nil
}

// ReadGuard returns the delete guard's state; ok is false when it is not engaged.
func ReadGuard(ctx context.Context, conn *zk.Conn) (GuardState, bool, error) {
	if err := ctx.Err(); err != nil {
		return GuardState{}, false, err
	}
	g, _, ok, err := readGuard(conn)
	return g, ok, err
}

// ReleaseGuard lets a paused applier proceed with exactly the batch it holds.
func ReleaseGuard(ctx context.Context, conn *zk.Conn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g, v, ok, err := readGuard(conn)
	if err != nil {
		return err
	}
	if !ok || g.State != GuardPaused {
		return ErrGuardNotPaused
	}
	g.State = GuardReleased
	g.ReleasedAt = time.Now().UTC()
	b, _ := json.Marshal(g)
	if _, err := conn.Set(zkpath.Guard, b, v); err != nil {
		return fmt.Errorf("release guard: %w", err)
	}
	return nil
}

// holdGuard pauses until the hold at g.FirstSeq is released. It writes the
// paused state (unless a release for this hold is already there) and returns
// the guard node's version, which the next Multi deletes with a version check.
func (a *Applier) holdGuard(ctx context.Context, conn *zk.Conn, g GuardState) (int32, error) {
	have, v, ok, err := readGuard(conn)
	if err != nil {
		return 0, err
	}
	if ok && have.FirstSeq == g.FirstSeq && have.Stream == g.Stream && have.State == GuardReleased {
		return v, nil
	}
	// Status shows the pause before the guard node does, so whoever sees the
	// node paused finds the daemon's status paused too.
	a.setGuard(&g)
	defer a.setGuard(nil)
	a.mu.Lock()
	a.stats.GuardPauses++
	a.mu.Unlock()
	switch {
	case ok && have.FirstSeq == g.FirstSeq && have.Stream == g.Stream:
		// Paused before a restart: keep waiting on the same node.
	default:
		b, _ := json.Marshal(g)
		if ok {
			if _, err := conn.Set(zkpath.Guard, b, v); err != nil {
				return 0, fmt.Errorf("write %s: %w", zkpath.Guard, err)
			}
		} else if _, err := conn.Create(zkpath.Guard, b, 0, worldACL); err != nil {
			return 0, fmt.Errorf("write %s: %w", zkpath.Guard, err)
		}
	}
	if a.cfg.OnGuard != nil {
		a.cfg.OnGuard(g)
	}
	a.log.Warn("delete guard paused the applier; run `zkdr guard release` to proceed",
		"deletes", g.Deletes, "shrink", g.Shrink, "peak", g.Peak, "share", g.Share, "window", g.Window,
		"first-seq", g.FirstSeq, "last-seq", g.LastSeq, "sample", g.Sample)
	for {
		data, st, ch, err := conn.GetW(zkpath.Guard)
		if errors.Is(err, zk.ErrNoNode) {
			return 0, fmt.Errorf("%w: %s was removed while paused; not releasing", ErrApply, zkpath.Guard)
		}
		if err != nil {
			return 0, fmt.Errorf("watch %s: %w", zkpath.Guard, err)
		}
		var now GuardState
		if json.Unmarshal(data, &now) == nil && now.State == GuardReleased && now.FirstSeq == g.FirstSeq {
			a.log.Info("delete guard released", "first-seq", g.FirstSeq, "deletes", g.Deletes)
			if a.cfg.OnGuard != nil {
				a.cfg.OnGuard(now)
			}
			return st.Version, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-ch:
		}
	}
}
