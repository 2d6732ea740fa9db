package site

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// ElectionPath holds one ephemeral sequential node per daemon of a site; the
// lowest is the leader. It lives in the site's own ensemble under /zkdr, which is
// never replicated.
const ElectionPath = zkpath.Election

// ElectionConn is the part of *zk.Conn leader election uses.
type ElectionConn interface {
	CreateProtectedEphemeralSequential(path string, data []byte, acl []zk.ACL) (string, error)
	Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	Children(path string) ([]string, *zk.Stat, error)
	ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error)
	Get(path string) ([]byte, *zk.Stat, error)
	Delete(path string, version int32) error
	State() zk.State
}

var _ ElectionConn = (*zk.Conn)(nil)

// Leadership is held by one daemon of a site at a time.
type Leadership struct {
	conn ElectionConn
	node string
	// Lost is closed when leadership can no longer be trusted: the session
	// expired or the election node vanished. The holder must stop leading.
	Lost <-chan struct{}
}

// Resign deletes the election node so the next daemon takes over at once.
func (l *Leadership) Resign() {
	_ = l.conn.Delete(l.node, -1)
}

// Elect joins the site's election as nodeID and blocks until this daemon leads
// or ctx ends. events must carry the connection's session events (from the
// channel zk.Connect returns, or an event callback); an expired session ends
// the leadership. Waiting daemons watch only their predecessor, so a leader's
// death wakes exactly one of them.
func Elect(ctx context.Context, conn ElectionConn, nodeID string, sessionExpired <-chan struct{}, logger hclog.Logger) (*Leadership, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if _, err := conn.Create(path.Dir(ElectionPath), nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return nil, fmt.Errorf("create %s: %w", path.Dir(ElectionPath), err)
	}
	if _, err := conn.Create(ElectionPath, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return nil, fmt.Errorf("create %s: %w", ElectionPath, err)
	}
	var me string
	err := retry(ctx, func() error {
		var err error
		me, err = conn.CreateProtectedEphemeralSequential(ElectionPath+"/n-", []byte(nodeID), zk.WorldACL(zk.PermAll))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("join election: %w", err)
	}
	myName := path.Base(me)
	logged := ""
	for {
		var kids []string
		if err := retry(ctx, func() error {
			var err error
			kids, _, err = conn.Children(ElectionPath)
			return err
		}); err != nil {
			return nil, fmt.Errorf("list election: %w", err)
		}
		sort.Slice(kids, func(i, j int) bool { return seqOf(kids[i]) < seqOf(kids[j]) })
		idx := -1
		for i, k := range kids {
			if k == myName {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("join election: %w: our node %s vanished (session expired?)", zk.ErrNoNode, myName)
		}
		if idx == 0 {
			lost := make(chan struct{})
			go watchOwn(conn, me, sessionExpired, lost)
			logger.Info("leading the site", "node-id", nodeID)
			return &Leadership{conn: conn, node: me, Lost: lost}, nil
		}
		prev := path.Join(ElectionPath, kids[idx-1])
		if logged != prev {
			leader, _, _ := conn.Get(path.Join(ElectionPath, kids[0]))
			logger.Info("waiting: another daemon leads the site", "leader", string(leader), "node-id", nodeID)
			logged = prev
		}
		ok, _, ch, err := conn.ExistsW(prev)
		if err != nil {
			select {
			case <-ctx.Done():
				_ = conn.Delete(me, -1)
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if !ok {
			continue
		}
		select {
		case <-ctx.Done():
			_ = conn.Delete(me, -1)
			return nil, ctx.Err()
		case <-sessionExpired:
			return nil, fmt.Errorf("join election: %w", zk.ErrSessionExpired)
		case <-ch:
		}
	}
}

// watchOwn closes lost when the session expires or the election node is gone.
func watchOwn(conn ElectionConn, node string, sessionExpired <-chan struct{}, lost chan<- struct{}) {
	defer close(lost)
	for {
		ok, _, ch, err := conn.ExistsW(node)
		if err == nil && !ok {
			return
		}
		if errors.Is(err, zk.ErrClosing) || errors.Is(err, zk.ErrConnectionClosed) && conn.State() == zk.StateDisconnected {
			return
		}
		if err != nil {
			select {
			case <-sessionExpired:
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		select {
		case <-sessionExpired:
			return
		case ev := <-ch:
			if ev.Type == zk.EventNodeDeleted {
				return
			}
		}
	}
}

// seqOf is the sequence suffix of an election node's name; protected names
// carry a prefix before "n-".
func seqOf(name string) string {
	if i := strings.LastIndex(name, "n-"); i >= 0 {
		return name[i+2:]
	}
	return name
}

func retry(ctx context.Context, op func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = 0
	return backoff.Retry(func() error {
		err := op()
		if errors.Is(err, zk.ErrNoAuth) || errors.Is(err, zk.ErrClosing) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx))
}
