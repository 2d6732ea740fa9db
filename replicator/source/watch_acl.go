package source

import (
	"context"
	"errors"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkwire"
)

// aclRecheckLoop re-reads every ACL once per ACLRecheckInterval, spread over
// the interval and capped at maxACLRechecksPerSecond, on a bulk session
// (setACL fires no watch of any kind). A read whose aversion is newer than
// the index's becomes an acl event; ACLs only ever move forward by aversion,
// so a read from another session than the watching one is safe to apply.
func (w *watcher) aclRecheckLoop(ctx context.Context) error {
	conn := w.conn
	if len(w.bulk) > 0 {
		conn = w.bulk[0]
	}
	return w.s.aclRecheckPasses(ctx, func(ctx context.Context, p string) error { return w.recheckACL(ctx, conn, p) })
}

func (w *watcher) recheckACL(ctx context.Context, conn *zkwire.Conn, p string) error {
	e, ok := w.s.idx.get(p)
	if !ok || e.skipped {
		return nil
	}
	var a zkwire.ACLs
	err := w.s.retry(ctx, "get-acl", p, func() (err error) {
		a, err = conn.GetACL(p).Wait(ctx)
		return err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.Stat.Czxid != e.czxid || a.Stat.Aversion <= e.aversion {
		return nil
	}
	return w.push(ctx, &job{kind: jobACL, acl: nodeRead{path: p, exists: true, acl: a.ACL, aclStat: a.Stat}})
}
