package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
	"github.com/zkdr/zkdr/replicator/source"
)

func (d *Daemon) runActive(ctx context.Context, js jetstream.JetStream, rec site.Record) error {
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
	// The source opens the appender: a journal that refuses this lineage
	// stops it with a permanent replicator.StopError.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = app.Close(cctx)
	}()
	scfg := source.DefaultConfig()
	scfg.Site, scfg.Epoch = d.cfg.Site, rec.Epoch
	z := d.zkConfig()
	scfg.Servers, scfg.SessionTimeout, scfg.Auth = z.Servers, z.SessionTimeout, z.Auth
	scfg.Scope = scopeOf(d.cfg)
	scfg.HeartbeatInterval = d.cfg.Source.HeartbeatInterval
	scfg.ACLRecheckInterval = d.cfg.Source.ACLRecheckInterval
	scfg.SnapshotInterval = d.cfg.Source.SnapshotInterval
	scfg.SnapshotEveryEvents = d.cfg.Source.SnapshotEveryEvents
	scfg.Watch = d.cfg.Source.Watch
	scfg.Logger = d.log.Named("source")
	src, err := source.New(scfg, app)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.source = src
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.source = nil; d.mu.Unlock() }()
	return src.Run(ctx)
}

func (d *Daemon) runStandby(ctx context.Context, js jetstream.JetStream, rec site.Record) error {
	peer := d.cfg.Peer
	j := d.cfg.Journal
	stream := journal.StreamName(peer.Name)
	if _, err := journal.EnsureMirror(ctx, js, journal.StreamConfig{
		Site: peer.Name, Replicas: j.Replicas, MaxAge: j.MaxAge, MaxBytes: j.MaxBytes, MaxMsgs: j.MaxMsgs,
		DuplicateWindow: j.DuplicateWindow,
	}, peer.NATS.Domain); err != nil {
		return err
	}
	acfg := applier.DefaultConfig()
	acfg.Site = d.cfg.Site
	acfg.Stream = stream
	z := d.zkConfig()
	acfg.Servers, acfg.SessionTimeout, acfg.Auth = z.Servers, z.SessionTimeout, z.Auth
	acfg.MaxBatchOps = d.cfg.Applier.MaxBatchOps
	acfg.MaxBatchBytes = d.cfg.Applier.MaxBatchBytes
	acfg.DeleteGuardShare = d.cfg.Applier.DeleteGuardShare
	acfg.DeleteGuardMinNodes = d.cfg.Applier.DeleteGuardMinNodes
	acfg.DeleteGuardWindow = d.cfg.Applier.DeleteGuardWindow
	acfg.IndexFile = d.cfg.Applier.IndexFile
	acfg.OnGuard = d.onGuard
	acfg.Scope = scopeOf(d.cfg)
	acfg.Mapping = mappingOf(d.cfg)
	// A standby record carries the epoch the active site publishes at: what
	// that site published at an older epoch is a deposed tail (see MinEpoch).
	acfg.MinEpoch = rec.Epoch
	acfg.Logger = d.log.Named("applier")
	acfg.OpenReader = func(ctx context.Context, startSeq uint64) (applier.JournalReader, error) {
		return journal.NewReader(js, journal.ReaderConfig{Stream: stream, StartSeq: startSeq, Logger: d.log.Named("reader")})
	}
	acfg.RequestSnapshot = d.requestPeerSnapshot
	ap, err := applier.New(acfg)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.applier = ap
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.applier = nil; d.mu.Unlock() }()
	ae, err := d.newAntiEntropy(func() int64 { return ap.Stats().WatermarkZxid })
	if err != nil {
		// The applier matters more than the comparison: run without it.
		d.log.Warn("anti-entropy not started", "error", err)
	}
	if ae == nil {
		return d.applyLoop(ctx, ap, stream)
	}
	d.mu.Lock()
	d.antiEntropy = ae
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.antiEntropy = nil; d.mu.Unlock() }()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(rctx)
	g.Go(func() error {
		// The comparison runs only alongside the applier.
		defer cancel()
		return d.applyLoop(gctx, ap, stream)
	})
	g.Go(func() error { return ae.Run(gctx) })
	return g.Wait()
}

// applyLoop runs the applier; after an undecodable message it waits for an
// operator's skip and runs it again.
func (d *Daemon) applyLoop(ctx context.Context, ap *applier.Applier, stream string) error {
	for {
		err := ap.Run(ctx)
		var de *journal.DecodeError
		if ctx.Err() != nil || !errors.Is(err, applier.ErrPoisonMessage) || !errors.As(err, &de) {
			return err
		}
		// An undecodable message needs an operator; `zkdr journal skip` moves
		// the checkpoint past it, and the applier resumes without a restart.
		d.setErr(err)
		d.log.Error("applier stopped on an undecodable journal message; waiting for `zkdr journal skip --seq N`",
			"stream", stream, "journal-seq", de.Seq, "error", err)
		if err := d.waitSkipped(ctx, de.Seq); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		d.setErr(nil)
		d.log.Info("undecodable message skipped; the applier resumes", "stream", stream, "journal-seq", de.Seq)
	}
}

// waitSkipped waits until the standby's checkpoint is at seq or beyond.
func (d *Daemon) waitSkipped(ctx context.Context, seq uint64) error {
	conn, err := zkconn.Dial(ctx, d.zkConfig(), d.log.Named("zk"))
	if err != nil {
		return err
	}
	defer conn.Close()
	return applier.WaitCheckpointPast(ctx, conn, seq)
}

// requestPeerSnapshot asks the peer (active) site's source for a fresh
// snapshot through the peer's ensemble, retrying with backoff while the peer is
// unreachable. The applier calls it after a retention gap.
func (d *Daemon) requestPeerSnapshot(ctx context.Context, reason string) error {
	zc := zkConfigOf(d.cfg.Peer.ZooKeeper)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	b.MaxInterval = 30 * time.Second
	b.MaxElapsedTime = 0
	op := func() error {
		// Bounded, so an unreachable peer is retried with a fresh connection.
		actx, cancel := context.WithTimeout(ctx, 2*zc.SessionTimeout)
		defer cancel()
		conn, err := zkconn.Dial(actx, zc, d.log.Named("peer-zk"))
		if err != nil {
			return err
		}
		defer conn.Close()
		return source.RequestSnapshot(actx, conn, d.cfg.Site, reason)
	}
	notify := func(err error, wait time.Duration) {
		d.log.Warn("cannot ask the peer site for a snapshot yet; retrying", "peer", d.cfg.Peer.Name, "error", err, "in", wait)
	}
	return backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify)
}

// scopeOf is the replicated scope of a config, in source paths; the source and
// the applier use the same one.
func scopeOf(c *configs.Config) zkpath.Scope { return c.Replication.Scope() }

// mappingOf is the config's optional source-to-standby prefix mapping.
func mappingOf(c *configs.Config) []zkpath.PathMap { return c.Replication.Mapper().Maps }

func writerID(c *configs.Config) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d/%d", c.Site, host, os.Getpid(), time.Now().UnixNano())
}

// ConnectNATS connects to a site's NATS with the config's credentials, retrying
// in the background (the connection reconnects forever).
func ConnectNATS(c configs.NATS, logger hclog.Logger, extra ...nats.Option) (*nats.Conn, error) {
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
	opts = append(opts, extra...)
	nc, err := nats.Connect(c.URL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", c.URL(), err)
	}
	return nc, nil
}
