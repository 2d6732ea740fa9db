package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/journal"
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

func isPermanent(err error) bool {
	return errors.Is(err, journal.ErrFenced) || errors.Is(err, journal.ErrStaleEpoch) ||
		errors.Is(err, journal.ErrRetentionGap) || errors.Is(err, journal.ErrUnknownVersion) ||
		errors.Is(err, journal.ErrCorrupt)
}

func (d *Daemon) runActive(ctx context.Context, js jetstream.JetStream, rec Record) error {
	j := d.cfg.Journal
	if _, err := journal.EnsureStream(ctx, js, journal.StreamConfig{
		Site: d.cfg.Site, Replicas: j.Replicas, MaxAge: j.MaxAge, MaxBytes: j.MaxBytes, MaxMsgs: j.MaxMsgs,
		DuplicateWindow: j.DuplicateWindow,
	}); err != nil {
		return err
	}
	acfg := journal.DefaultAppenderConfig(d.cfg.Site)
	acfg.Epoch = rec.Epoch
	acfg.WriterID = writerID(d.cfg)
	acfg.MaxBatchBytes = j.MaxBatchBytes
	acfg.Linger = j.Linger
	acfg.Logger = d.log.Named("appender")
	app, err := journal.NewAppender(js, acfg)
	if err != nil {
		return err
	}
	if err := app.Open(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = app.Close(cctx)
	}()
	scfg := replicator.DefaultSourceConfig()
	scfg.Site, scfg.Epoch = d.cfg.Site, rec.Epoch
	z := d.zkConfig()
	scfg.Servers, scfg.SessionTimeout, scfg.Auth = z.Servers, z.SessionTimeout, z.Auth
	scfg.Scope = scopeOf(d.cfg)
	scfg.HeartbeatInterval = d.cfg.Source.HeartbeatInterval
	if d.cfg.Source.ACLRecheckInterval > 0 {
		scfg.ACLRecheckInterval = d.cfg.Source.ACLRecheckInterval
	}
	scfg.Logger = d.log.Named("source")
	src, err := replicator.NewSource(scfg, app)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.source = src
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.source = nil; d.mu.Unlock() }()
	return src.Run(ctx)
}

func (d *Daemon) runStandby(ctx context.Context, js jetstream.JetStream, rec Record) error {
	peer := d.cfg.Peer
	j := d.cfg.Journal
	stream := journal.StreamName(peer.Name)
	if _, err := journal.EnsureMirror(ctx, js, journal.StreamConfig{
		Site: peer.Name, Replicas: j.Replicas, MaxAge: j.MaxAge, MaxBytes: j.MaxBytes, MaxMsgs: j.MaxMsgs,
		DuplicateWindow: j.DuplicateWindow,
	}, peer.NATS.Domain); err != nil {
		return err
	}
	acfg := replicator.DefaultApplierConfig()
	acfg.Site = d.cfg.Site
	acfg.Stream = stream
	z := d.zkConfig()
	acfg.Servers, acfg.SessionTimeout, acfg.Auth = z.Servers, z.SessionTimeout, z.Auth
	acfg.MaxBatchOps = d.cfg.Applier.MaxBatchOps
	acfg.MaxBatchBytes = d.cfg.Applier.MaxBatchBytes
	acfg.DeleteGuardShare = d.cfg.Applier.DeleteGuardShare
	acfg.Logger = d.log.Named("applier")
	acfg.OpenReader = func(ctx context.Context, startSeq uint64) (replicator.JournalReader, error) {
		return journal.NewReader(js, journal.ReaderConfig{Stream: stream, StartSeq: startSeq, Logger: d.log.Named("reader")})
	}
	ap, err := replicator.NewApplier(acfg)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.applier = ap
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.applier = nil; d.mu.Unlock() }()
	return ap.Run(ctx)
}

func scopeOf(c *configs.Config) replicator.Scope {
	s := replicator.Scope{Include: c.Replication.Include, Exclude: c.Replication.Exclude}
	return s
}

func writerID(c *configs.Config) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d/%d", c.Site, host, os.Getpid(), time.Now().UnixNano())
}

// ConnectNATS connects to a site's NATS with the config's credentials, retrying
// in the background (the connection reconnects forever).
func ConnectNATS(c configs.NATS, logger hclog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("zkdr"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password.Reveal()))
	}
	if t := c.Token.Reveal(); t != "" {
		opts = append(opts, nats.Token(t))
	}
	if c.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
	}
	nc, err := nats.Connect(c.URL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	return nc, nil
}
