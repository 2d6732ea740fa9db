package source

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// heartbeatLoop writes the heartbeat every HeartbeatInterval once the bootstrap
// snapshot is published. A write happens only while the previous one has been
// read back with a new watch (hbArmed): the read after a notification then returns
// exactly the write that caused it, so the published zxid W is that write's and
// every notification for a zxid below W came earlier on the same session.
//
// The watch is set again, under a new generation, only when it is surely gone
// (session expiry) or a write's notification is long overdue; a read for a
// notification of an older generation is discarded, since it may return a later
// write than the one that caused it.
func (s *Source) heartbeatLoop(ctx context.Context) error {
	if err := s.waitBootstrapped(ctx); err != nil {
		return nil
	}
	if err := s.armHeartbeat(ctx); err != nil {
		return ignoreDone(ctx, err)
	}
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	overdue := max(30*time.Second, 10*s.cfg.HeartbeatInterval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if s.hbRearm.Swap(false) || (!s.hbArmed.Load() && time.Since(time.Unix(0, s.hbWritten.Load())) > overdue) {
			if err := s.armHeartbeat(ctx); err != nil {
				return ignoreDone(ctx, err)
			}
		}
		if !s.hbArmed.CompareAndSwap(true, false) {
			continue
		}
		now := time.Now().UnixNano()
		data := []byte(strconv.FormatInt(now, 10))
		s.hbWritten.Store(now)
		_, err := s.conn.Set(zkpath.Heartbeat, data, -1)
		switch {
		case err == nil:
		case errors.Is(err, zk.ErrNoNode):
			if err := s.armHeartbeat(ctx); err != nil {
				return ignoreDone(ctx, err)
			}
		default:
			// The write may or may not have happened. If it did, its notification
			// comes; if not, the watch is still set and nothing will fire.
			cur, _, rerr := s.getW(ctx, zkpath.Heartbeat)
			if rerr != nil {
				return ignoreDone(ctx, rerr)
			}
			if string(cur) != string(data) {
				s.hbArmed.Store(true)
			}
		}
	}
}

// armHeartbeat creates the heartbeat node (and /zkdr) if needed and sets its watch.
func (s *Source) armHeartbeat(ctx context.Context) error {
	for _, p := range []string{zkpath.Root, zkpath.Heartbeat} {
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
	s.hbGen.Add(1)
	if _, _, err := s.getW(ctx, zkpath.Heartbeat); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	s.hbWritten.Store(time.Now().UnixNano())
	s.hbArmed.Store(true)
	return nil
}

// readHeartbeat follows the heartbeat's notification, dispatched in generation gen.
func (s *Source) readHeartbeat(ctx context.Context, gen uint64) result {
	data, st, err := s.getW(ctx, zkpath.Heartbeat)
	if s.hbGen.Load() != gen {
		return result{kind: resNodes} // the watch was set again meanwhile: W is unknown
	}
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
