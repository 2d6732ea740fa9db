package site

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkconn"
)

// RecordState is one observation of an ensemble's site record by WatchRecord.
type RecordState struct {
	Record  Record
	Version int32 // stat version; -1 when there is no record or Err is set
	Exists  bool  // false: the ensemble has no site record
	// Err is set when the record could not be read (the ensemble is unreachable)
	// or decoded; Record and Exists then say nothing.
	Err error
}

// sameAs tells whether two observations show the same stored record.
func (s RecordState) sameAs(o RecordState) bool {
	a, b := s.Record, o.Record
	return s.Err == nil && o.Err == nil && s.Exists == o.Exists && s.Version == o.Version &&
		a.Site == b.Site && a.Role == b.Role && a.Epoch == b.Epoch && a.Since.Equal(b.Since) &&
		a.ChangedBy == b.ChangedBy && a.Reason == b.Reason
}

// WatchRecord reports the site record of conn's ensemble to notify: once at the
// start and then on every change, until ctx ends (it returns nil) or conn is
// closed (it returns an error wrapping zk.ErrClosing). It sets a one-shot watch
// after every read (GetW, or ExistsW while there is no record), so it survives
// reconnects (go-zookeeper re-sends watches) and session expiry (the lost watch
// fires EventNotWatching and the record is read again). A failed read is
// reported with Err and retried with backoff. notify runs on WatchRecord's
// goroutine and must not block for long.
func WatchRecord(ctx context.Context, conn RecordConn, notify func(RecordState)) error {
	var (
		last     RecordState
		reported bool
	)
	report := func(s RecordState) {
		if reported && s.sameAs(last) {
			return
		}
		last, reported = s, true
		notify(s)
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = 0
	for {
		var (
			state RecordState
			watch <-chan zk.Event
		)
		op := func() error {
			var err error
			state, watch, err = readWatch(ctx, conn)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, zk.ErrClosing), ctx.Err() != nil:
				return backoff.Permanent(err)
			default:
				return err
			}
		}
		onErr := func(err error, _ time.Duration) { report(RecordState{Version: -1, Err: err}) }
		if err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), onErr); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch site record: %w", err)
		}
		b.Reset()
		report(state)
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
			// Any event, including EventNotWatching after a session expiry or a
			// close, means: read again.
		}
	}
}

// readWatch reads the record and leaves a watch that fires on its next change.
func readWatch(ctx context.Context, conn RecordConn) (RecordState, <-chan zk.Event, error) {
	for {
		var (
			data  []byte
			stat  *zk.Stat
			watch <-chan zk.Event
		)
		err := zkconn.Do(ctx, func() (err error) { data, stat, watch, err = conn.GetW(RecordPath); return err })
		if err == nil {
			rec, derr := decodeRecord(data)
			if derr != nil {
				// Garbage in the record is not retried: the watch fires when
				// someone fixes it.
				return RecordState{Exists: true, Version: -1, Err: derr}, watch, nil
			}
			return RecordState{Record: rec, Version: stat.Version, Exists: true}, watch, nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return RecordState{}, nil, err
		}
		var exists bool
		err = zkconn.Do(ctx, func() (err error) { exists, _, watch, err = conn.ExistsW(RecordPath); return err })
		if err != nil {
			return RecordState{}, nil, err
		}
		if !exists {
			return RecordState{Version: -1}, watch, nil
		}
		// Created between the two calls: read it.
	}
}
