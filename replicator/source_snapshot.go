package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
)

// SnapshotRequestPath is where a standby asks the active site's source for a fresh snapshot.
const SnapshotRequestPath = "/zkdr/snapshot-request"

// SnapshotRequest is the JSON a request writes into SnapshotRequestPath. The
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
		_, err := conn.Set(SnapshotRequestPath, data, -1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("request snapshot: set %s: %w", SnapshotRequestPath, err)
		}
		if _, err := conn.Create("/zkdr", nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("request snapshot: create /zkdr: %w", err)
		}
		_, err = conn.Create(SnapshotRequestPath, data, 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("request snapshot: create %s: %w", SnapshotRequestPath, err)
		}
		// Created concurrently by another requester: loop and set it.
	}
}
