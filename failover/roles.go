package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

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
	acfg.DeleteGuardMinNodes = d.cfg.Applier.DeleteGuardMinNodes
	acfg.Scope = scopeOf(d.cfg)
	acfg.Mapping = mappingOf(d.cfg)
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

// scopeOf is the replicated scope of a config, in source paths; the source and
// the applier use the same one.
func scopeOf(c *configs.Config) replicator.Scope {
	s := replicator.Scope{Include: c.Replication.Include, Exclude: c.Replication.Exclude}
	if c.Replication.Ephemeral == configs.EphemeralPersistent {
		s.Ephemeral = []replicator.EphemeralRule{{Prefix: "/", Policy: replicator.EphemeralPersistent}}
	}
	return s
}

// mappingOf is the config's optional source-to-standby prefix mapping.
func mappingOf(c *configs.Config) []replicator.PathMap {
	if m := c.Replication.Mapping; m != nil {
		return []replicator.PathMap{{From: m.From, To: m.To}}
	}
	return nil
}

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
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	return nc, nil
}
