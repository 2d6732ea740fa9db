package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
)

// session is one client's ZooKeeper session: the controller's and producers'
// shared one, a broker's, a lock client's, a service host's. Restarting it
// closes the session (the server removes its ephemerals) and opens another.
type session struct {
	name string
	cfg  *Config
	log  hclog.Logger

	mu     sync.Mutex
	conn   *zk.Conn
	closed bool
}

func newSession(name string, cfg *Config, log hclog.Logger) *session {
	return &session{name: name, cfg: cfg, log: log.With("session", name)}
}

// get returns the open session, opening it first if needed.
func (s *session) get(ctx context.Context) (*zk.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.conn != nil {
		return s.conn, nil
	}
	conn, err := dial(ctx, s.cfg, s.log)
	if err != nil {
		return nil, fmt.Errorf("open session %s: %w", s.name, err)
	}
	s.conn = conn
	return conn, nil
}

// restart closes the session and opens a new one.
func (s *session) restart(ctx context.Context) error {
	s.stop()
	_, err := s.get(ctx)
	return err
}

// stop closes the session; the next get opens a new one. go-zookeeper's
// Close waits (up to a second) for the server to confirm, so the session's
// ephemerals are normally gone when it returns.
func (s *session) stop() {
	s.mu.Lock()
	conn := s.conn
	s.conn = nil
	s.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// close closes the session for good.
func (s *session) close() {
	s.stop()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// dial opens a session and waits until the server has granted it.
func dial(ctx context.Context, cfg *Config, log hclog.Logger) (*zk.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, cfg.RetryFor)
	defer cancel()
	conn, err := zkconn.Dial(dctx, zkconn.Config{Servers: cfg.Servers, SessionTimeout: cfg.SessionTimeout, Auth: cfg.Auth}, log,
		zkconn.WithConnOptions(zk.WithLogInfo(false)))
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		// The ensemble stayed unreachable: a failure of the connection, which
		// the caller retries like any other.
		return nil, fmt.Errorf("no session after %s: %w", cfg.RetryFor, zk.ErrNoServer)
	}
	return conn, err
}
