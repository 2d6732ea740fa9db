package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// SnapshotRequest is the JSON a request writes into zkpath.SnapshotRequest. The
// source does not interpret it beyond logging; every create or change of the node
// is one request.
type SnapshotRequest struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// RequestSnapshot asks the active site's source for a fresh snapshot by writing
// /zkdr/snapshot-request on the ACTIVE ensemble (JSON {by, reason, at}). The source
// watches that node and publishes snapshot-begin, snapshot-node..., snapshot-end.
func RequestSnapshot(ctx context.Context, conn *zk.Conn, by, reason string) error {
	if conn == nil {
		return fmt.Errorf("%w: no zookeeper connection", ErrInvalidConfig)
	}
	data, err := json.Marshal(SnapshotRequest{By: by, Reason: reason, At: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("request snapshot: %w", err)
	}
	// Set first: the node usually exists once a source has run. Each step is
	// idempotent in effect (any write of the node is one request), so a retry after
	// an ambiguous failure at worst asks for one more snapshot.
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("request snapshot: %w", err)
		}
		_, err := conn.Set(zkpath.SnapshotRequest, data, -1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("request snapshot: set %s: %w", zkpath.SnapshotRequest, err)
		}
		if _, err := conn.Create(zkpath.Root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("request snapshot: create /zkdr: %w", err)
		}
		_, err = conn.Create(zkpath.SnapshotRequest, data, 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("request snapshot: create %s: %w", zkpath.SnapshotRequest, err)
		}
		// Created concurrently by another requester: loop and set it.
	}
}

// snapshotLoop takes the snapshots asked for after the bootstrap one: one per
// write of zkpath.SnapshotRequest (requests made before a snapshot starts share
// it), one every SnapshotInterval, and one whenever SnapshotEveryEvents change
// events were published since the last one began. A snapshot is a walk with
// every watch in place: it publishes snapshot-begin, a snapshot-node for every
// node in scope, then snapshot-end, while changes keep flowing in order.
func (s *Source) snapshotLoop(ctx context.Context) error {
	return s.snapshotTriggers(ctx, true)
}

// snapshotTriggers takes the snapshots asked for after the bootstrap one.
// With watchRequest it watches zkpath.SnapshotRequest itself (one-shot
// watches); on a recursive watch the dispatch loop reports the node's writes.
func (s *Source) snapshotTriggers(ctx context.Context, watchRequest bool) error {
	if err := s.waitBootstrapped(ctx); err != nil {
		return nil
	}
	var (
		seen    int64
		err     error
		request <-chan struct{}
	)
	if watchRequest {
		// The bootstrap snapshot answers every request made before it.
		if seen, err = s.armSnapshotRequest(ctx); err != nil {
			return ignoreDone(ctx, err)
		}
		request = s.snapReq
	}
	var interval, poll <-chan time.Time
	if s.cfg.SnapshotInterval > 0 {
		t := time.NewTicker(s.cfg.SnapshotInterval)
		defer t.Stop()
		interval = t.C
	}
	if s.cfg.SnapshotEveryEvents > 0 {
		t := time.NewTicker(snapshotEventsPoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-request:
			mzxid, err := s.armSnapshotRequest(ctx)
			if err != nil {
				return ignoreDone(ctx, err)
			}
			if mzxid != 0 && mzxid != seen {
				s.takeSnapshot("request")
			}
			if mzxid != 0 {
				seen = mzxid
			}
		case <-interval:
			s.takeSnapshot("interval")
		case <-poll:
			if s.changes.Load()-s.snapBase.Load() >= s.cfg.SnapshotEveryEvents {
				s.takeSnapshot("events")
			}
		}
	}
}

// snapshotEventsPoll is how often the count of change events is compared with
// SnapshotEveryEvents.
const snapshotEventsPoll = time.Second

// takeSnapshot asks the walk loop for a snapshot walk.
func (s *Source) takeSnapshot(why string) {
	s.snapBase.Store(s.changes.Load()) // do not ask again before this one starts
	s.log.Info("snapshot scheduled", "why", why)
	s.requestWalk(walkRequest{snapshot: true})
}

// wakeSnapshotLoop is called by the dispatch loop when the request node's watch
// fires, or when a renewed session needs the watch set again.
func (s *Source) wakeSnapshotLoop() {
	select {
	case s.snapReq <- struct{}{}:
	default:
	}
}

// armSnapshotRequest sets a watch on zkpath.SnapshotRequest (a data watch when it
// exists, an exist watch when not) and returns its mzxid, 0 when it is missing.
// The caller compares the mzxid with the last one it acted on, so a write made
// while no watch was set (between a notification and this read, or while the
// session was expired) is still one request.
func (s *Source) armSnapshotRequest(ctx context.Context) (int64, error) {
	for {
		data, st, err := s.getW(ctx, zkpath.SnapshotRequest)
		if err == nil {
			var req SnapshotRequest
			if json.Unmarshal(data, &req) == nil {
				s.log.Debug("snapshot request node", "by", req.By, "reason", req.Reason, "at", req.At, "mzxid", st.Mzxid)
			}
			return st.Mzxid, nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return 0, err
		}
		var ok bool
		err = s.retry(ctx, "exists", zkpath.SnapshotRequest, func() (err error) {
			ok, _, _, err = s.conn.ExistsW(zkpath.SnapshotRequest)
			return err
		})
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, nil
		}
		// Created between the two reads: read it with a data watch.
	}
}
