package zkconn

import (
	"context"
	"fmt"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// ReadPool is the sessions a walk reads on in bulk: the caller's own session
// first, then extra ones, which spread the reads over more connections (the
// source's ACL reads; the applier's index walk and ACL prefetch).
type ReadPool struct {
	conns []*zk.Conn
}

// DialReadPool opens extra sessions beside own.
func DialReadPool(ctx context.Context, own *zk.Conn, extra int, cfg Config, log hclog.Logger) (*ReadPool, error) {
	rp := &ReadPool{conns: []*zk.Conn{own}}
	for range extra {
		c, err := Dial(ctx, cfg, log)
		if err != nil {
			rp.Close()
			return nil, err
		}
		rp.conns = append(rp.conns, c)
	}
	return rp, nil
}

// At is the session for the i-th read; At(0) is the caller's own.
func (rp *ReadPool) At(i int) *zk.Conn { return rp.conns[i%len(rp.conns)] }

// Sync has every extra session's server catch up with the leader, so what they
// read next includes every write the own session has had answered.
func (rp *ReadPool) Sync() error {
	for _, c := range rp.conns[1:] {
		if _, err := c.Sync("/"); err != nil {
			return fmt.Errorf("sync a bulk read session: %w", err)
		}
	}
	return nil
}

// Close closes the extra sessions (the own session is the caller's to close).
func (rp *ReadPool) Close() {
	for _, c := range rp.conns[1:] {
		c.Close()
	}
	rp.conns = rp.conns[:1]
}
