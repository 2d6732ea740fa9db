package daemon

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkconn"
)

// Run follows the site record until ctx ends (it returns nil) or a permanent
// error. With ha.election on, it first wins the election among the site's
// daemons and follows the record only while it leads; a daemon that loses
// leadership stops its runner and joins the election again.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.cfg.HA.Election {
		return d.run(ctx)
	}
	nodeID := d.cfg.HA.NodeID
	if nodeID == "" {
		host, _ := os.Hostname()
		nodeID = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	for {
		err := d.leadOnce(ctx, nodeID)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		d.log.Warn("lost leadership of the site; joining the election again", "node-id", nodeID)
	}
}

// leadOnce waits for leadership on a session of its own, then runs the daemon
// until leadership is lost (nil) or the daemon fails.
func (d *Daemon) leadOnce(ctx context.Context, nodeID string) error {
	expired := make(chan struct{})
	var once sync.Once
	conn, err := zkconn.Dial(ctx, d.zkConfig(), d.log.Named("election-zk"), zkconn.WithEventCallback(func(ev zk.Event) {
		if ev.State == zk.StateExpired {
			once.Do(func() { close(expired) })
		}
	}))
	if err != nil {
		return fmt.Errorf("connect to zookeeper for the election: %w", err)
	}
	defer conn.Close()
	lead, err := site.Elect(ctx, conn, nodeID, expired, d.log.Named("election"))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("election failed; trying again", "error", err)
		return nil
	}
	d.mu.Lock()
	d.leading = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.leading = false
		d.mu.Unlock()
	}()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lead.Lost:
			cancel()
		case <-lctx.Done():
		}
	}()
	err = d.run(lctx)
	lead.Resign()
	if ctx.Err() != nil {
		return nil
	}
	return err
}
