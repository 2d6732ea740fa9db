package source

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// heartbeatMark is a heartbeat write the server acknowledged: its zxid, the
// time written into it, and when the acknowledgement arrived.
type heartbeatMark struct {
	zxid, time int64
	seen       time.Time
}

// heartbeatLoop writes /zkdr/heartbeat every HeartbeatInterval once the
// bootstrap snapshot is published, on the watching session. ZooKeeper applies
// transactions in zxid order and queues each one's notifications on a
// connection before the reply to the write that comes after them, and zkwire
// hands notifications over before it completes a later reply. So when the
// write's reply (zxid W) arrives, every notification for a zxid below W is
// already in the event queue, and the mark queued behind them is published
// after their reads: the watermark needs no read of the heartbeat node.
func (w *watcher) heartbeatLoop(ctx context.Context) error {
	s := w.s
	if err := s.waitBootstrapped(ctx); err != nil {
		return nil
	}
	if err := w.ensureHeartbeatNode(ctx); err != nil {
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
		now := time.Now().UnixNano()
		st, err := w.conn.SetData(zkpath.Heartbeat, []byte(strconv.FormatInt(now, 10)), -1).Wait(ctx)
		switch {
		case err == nil:
			w.events.push(queued{hb: &heartbeatMark{zxid: st.Mzxid, time: now, seen: time.Now()}})
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := w.ensureHeartbeatNode(ctx); err != nil {
				return ignoreDone(ctx, err)
			}
		case transient(err):
			// Lost with the connection: whether it happened or not, the next
			// write's reply bounds everything before it.
			s.retries.Add(1)
		default:
			return err
		}
	}
}

// ensureHeartbeatNode creates /zkdr and the heartbeat node if needed.
func (w *watcher) ensureHeartbeatNode(ctx context.Context) error {
	for _, p := range []string{zkpath.Root, zkpath.Heartbeat} {
		err := w.s.retry(ctx, "create", p, func() error {
			_, err := w.conn.Create(p, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0, zk.WorldACL(zk.PermAll)).Wait(ctx)
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
