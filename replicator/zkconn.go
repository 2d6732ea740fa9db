package replicator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zklog"
)

// ZKConfig says how to reach one ZooKeeper ensemble.
type ZKConfig struct {
	Servers        []string
	SessionTimeout time.Duration
	// Auth is "user:password" for the digest scheme, or empty. Never logged.
	Auth string
}

// Validate checks the fields without revealing Auth in any error.
func (c ZKConfig) Validate() error {
	if len(c.Servers) == 0 {
		return fmt.Errorf("%w: no zookeeper servers", ErrInvalidConfig)
	}
	if c.SessionTimeout <= 0 {
		return fmt.Errorf("%w: session timeout must be positive", ErrInvalidConfig)
	}
	if c.Auth != "" && !strings.Contains(c.Auth, ":") {
		return fmt.Errorf("%w: zookeeper auth must be user:password", ErrInvalidConfig)
	}
	return nil
}

// DialZK opens a ZooKeeper connection, adds the digest credentials (go-zookeeper
// re-sends them on every reconnect) and waits until a session is established or ctx
// ends. onEvent, if not nil, sees every event in the order the connection received
// it; it runs on the receive goroutine and must not block. go-zookeeper's own
// messages go to logger.
func DialZK(ctx context.Context, cfg ZKConfig, logger hclog.Logger, onEvent zk.EventCallback) (*zk.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	conn, _, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithLogger(zklog.New(logger)),
		zk.WithEventCallback(onEvent))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	if err := waitSession(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	if cfg.Auth != "" {
		if err := conn.AddAuth("digest", []byte(cfg.Auth)); err != nil {
			conn.Close()
			// The error is go-zookeeper's, which never carries the credentials.
			return nil, fmt.Errorf("%w: add digest auth: %w", ErrConnect, err)
		}
	}
	return conn, nil
}

// waitSession polls because the event channel may belong to a callback already.
func waitSession(ctx context.Context, conn *zk.Conn) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for conn.State() != zk.StateHasSession {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrConnect, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// readPool is the sessions a walk reads on in bulk: the caller's own session
// first, then extra ones, which spread the reads over more connections (the
// source's ACL reads; the applier's index walk and ACL prefetch).
type readPool struct {
	conns []*zk.Conn
}

// dialReadPool opens extra sessions beside own.
func dialReadPool(ctx context.Context, own *zk.Conn, extra int, cfg ZKConfig, log hclog.Logger) (*readPool, error) {
	rp := &readPool{conns: []*zk.Conn{own}}
	for range extra {
		c, err := DialZK(ctx, cfg, log, nil)
		if err != nil {
			rp.close()
			return nil, err
		}
		rp.conns = append(rp.conns, c)
	}
	return rp, nil
}

// at is the session for the i-th read.
func (rp *readPool) at(i int) *zk.Conn { return rp.conns[i%len(rp.conns)] }

// sync has every extra session's server catch up with the leader, so what they
// read next includes every write the own session has had answered.
func (rp *readPool) sync() error {
	for _, c := range rp.conns[1:] {
		if _, err := c.Sync("/"); err != nil {
			return fmt.Errorf("sync a bulk read session: %w", err)
		}
	}
	return nil
}

// close closes the extra sessions (the own session is the caller's to close).
func (rp *readPool) close() {
	for _, c := range rp.conns[1:] {
		c.Close()
	}
	rp.conns = rp.conns[:1]
}
