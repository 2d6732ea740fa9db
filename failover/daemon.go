package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/replicator"
)

// Daemon is one site's zkdr daemon: it follows the site record in its own
// ensemble and runs a source while the site is active, an applier while it is
// standby, and nothing while it is fenced, switching without a restart.
type Daemon struct {
	cfg *configs.Config
	log hclog.Logger

	mu      sync.Mutex // guards the fields below
	rec     Record
	source  *replicator.Source
	applier *replicator.Applier
	lastErr error
}

// DaemonStatus is a point-in-time view of a Daemon.
type DaemonStatus struct {
	Site    string
	Role    Role
	Epoch   uint64
	Source  *replicator.SourceStats  // while active
	Applier *replicator.ApplierStats // while standby
	LastErr string
}

// NewDaemon validates cfg and returns a Daemon; it starts nothing.
func NewDaemon(cfg *configs.Config, logger hclog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Daemon{cfg: cfg, log: logger.Named("site").With("site", cfg.Site)}, nil
}

// Status reports the daemon's role and the current runner's statistics.
func (d *Daemon) Status() DaemonStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := DaemonStatus{Site: d.cfg.Site, Role: d.rec.Role, Epoch: d.rec.Epoch}
	if d.source != nil {
		s := d.source.Stats()
		st.Source = &s
	}
	if d.applier != nil {
		a := d.applier.Stats()
		st.Applier = &a
	}
	if d.lastErr != nil {
		st.LastErr = d.lastErr.Error()
	}
	return st
}

func (d *Daemon) zkConfig() replicator.ZKConfig {
	z := d.cfg.ZooKeeper
	return replicator.ZKConfig{Servers: z.Servers, SessionTimeout: z.SessionTimeout, Auth: z.Auth.Reveal()}
}

// Run connects to the site's ensemble and NATS and follows the site record until
// ctx ends (it returns nil) or a permanent error.
func (d *Daemon) Run(ctx context.Context) error {
	conn, err := replicator.DialZK(ctx, d.zkConfig(), d.log.Named("zk"), nil)
	if err != nil {
		return fmt.Errorf("connect to zookeeper: %w", err)
	}
	defer conn.Close()
	nc, err := ConnectNATS(d.cfg.NATS, d.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	rec, _, err := EnsureRecord(ctx, conn, d.cfg.Site, Role(d.cfg.InitialRole))
	if err != nil {
		return err
	}
	d.log.Info("site record", "role", rec.Role, "epoch", rec.Epoch)

	changes := make(chan Record, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = WatchRecord(watchCtx, conn, func(s RecordState) {
			if s.Err != nil || !s.Exists {
				return
			}
			select {
			case <-changes:
			default:
			}
			changes <- s.Record
		})
	}()
	defer func() { stopWatch(); wg.Wait() }()

	for {
		roleCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func(rec Record) { done <- d.runRole(roleCtx, conn, js, rec) }(rec)
	wait:
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case next := <-changes:
			if next.Role == rec.Role && next.Epoch == rec.Epoch {
				goto wait
			}
			d.log.Info("site record changed", "role", next.Role, "epoch", next.Epoch, "was-role", rec.Role, "was-epoch", rec.Epoch)
			cancel()
			<-done
			rec = next
		case err := <-done:
			cancel()
			if err != nil {
				return err
			}
			// The runner ended by itself: wait for a record change.
			select {
			case <-ctx.Done():
				return nil
			case rec = <-changes:
			}
		}
	}
}

// runRole runs what the record asks for, retrying transient failures with
// backoff until ctx ends.
func (d *Daemon) runRole(ctx context.Context, conn *zk.Conn, js jetstream.JetStream, rec Record) error {
	d.mu.Lock()
	d.rec = rec
	d.mu.Unlock()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	b.MaxElapsedTime = 0
	op := func() error {
		var err error
		switch rec.Role {
		case RoleActive:
			err = d.runActive(ctx, js, rec)
		case RoleStandby:
			err = d.runStandby(ctx, js, rec)
		default:
			d.log.Info("site is fenced: neither publishing nor applying")
			<-ctx.Done()
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		d.mu.Lock()
		d.lastErr = err
		d.mu.Unlock()
		if err != nil {
			d.log.Error("role runner stopped", "role", rec.Role, "error", err)
		}
		if isPermanent(err) {
			return backoff.Permanent(err)
		}
		return err
	}
	err := backoff.Retry(op, backoff.WithContext(b, ctx))
	if ctx.Err() != nil {
		return nil
	}
	var perm *backoff.PermanentError
	if errors.As(err, &perm) {
		// A permanent error needs an operator (skip, guard release, promotion):
		// keep the daemon up for status and wait for the record to change.
		<-ctx.Done()
		return nil
	}
	return err
}
