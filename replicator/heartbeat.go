package replicator

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

// heartbeatPath is written by the source on the active ensemble and watched there.
const heartbeatPath = "/zkdr/heartbeat"

// heartbeatLoop writes the heartbeat every HeartbeatInterval once the bootstrap
// snapshot is published. A write happens only while the previous one has been
// read back with a new watch (hbArmed): the read after a notification then returns
// exactly the write that caused it, so the published zxid W is that write's and
// every notification for a zxid below W came earlier on the same session.
func (s *Source) heartbeatLoop(ctx context.Context) error {
	if err := s.waitBootstrapped(ctx); err != nil {
		return nil
	}
	if err := s.armHeartbeat(ctx); err != nil {
		return ignoreDone(ctx, err)
	}
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !s.hbArmed.CompareAndSwap(true, false) {
			// The watch or its notification was lost (session expiry, or a write
			// that failed on a broken connection): set it again after a while.
			if time.Since(time.Unix(0, s.hbWritten.Load())) > 5*s.cfg.HeartbeatInterval {
				if err := s.armHeartbeat(ctx); err != nil {
					return ignoreDone(ctx, err)
				}
			}
			continue
		}
		now := time.Now().UnixNano()
		s.hbWritten.Store(now)
		_, err := s.conn.Set(heartbeatPath, []byte(strconv.FormatInt(now, 10)), -1)
		if errors.Is(err, zk.ErrNoNode) {
			s.hbArmed.Store(true) // armHeartbeat recreates it below on the next tick
			if err := s.armHeartbeat(ctx); err != nil {
				return ignoreDone(ctx, err)
			}
			continue
		}
		if err != nil {
			s.log.Debug("heartbeat write failed", "error", err)
		}
	}
}

// armHeartbeat creates the heartbeat node (and /zkdr) if needed and sets its watch.
func (s *Source) armHeartbeat(ctx context.Context) error {
	for _, p := range []string{"/zkdr", heartbeatPath} {
		err := s.retry(ctx, "create", p, func() error {
			_, err := s.conn.Create(p, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0, zk.WorldACL(zk.PermAll))
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if _, _, err := s.getW(ctx, heartbeatPath); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	s.hbWritten.Store(time.Now().UnixNano())
	s.hbArmed.Store(true)
	return nil
}

// readHeartbeat follows the heartbeat's notification.
func (s *Source) readHeartbeat(ctx context.Context) result {
	data, st, err := s.getW(ctx, heartbeatPath)
	if errors.Is(err, zk.ErrNoNode) {
		return result{kind: resNodes} // deleted by someone: the loop recreates it
	}
	if err != nil {
		return result{err: err}
	}
	defer s.hbArmed.Store(true)
	t, perr := strconv.ParseInt(string(data), 10, 64)
	if perr != nil {
		return result{kind: resNodes}
	}
	return result{kind: resHeartbeat, zxid: st.Mzxid, time: t}
}

func (s *Source) waitBootstrapped(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.bootDone:
		return nil
	}
}

func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
