package zkconn

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// Option changes how Dial opens a session.
type Option func(*dialOptions)

type dialOptions struct {
	onEvent zk.EventCallback
	conn    []func(*zk.Conn)
	noWait  bool
	events  *<-chan zk.Event
}

// WithEventCallback has onEvent see every event in the order the connection
// received it; it runs on the receive goroutine and must not block.
func WithEventCallback(onEvent zk.EventCallback) Option {
	return func(o *dialOptions) { o.onEvent = onEvent }
}

// WithConnOptions adds go-zookeeper options (zk.WithLogInfo, a host provider
// and its dialer, ...), applied after Dial's own.
func WithConnOptions(opts ...func(*zk.Conn)) Option {
	return func(o *dialOptions) { o.conn = append(o.conn, opts...) }
}

// NoWait makes Dial return once the connection is set up, without waiting for
// a session: the caller waits, or lets go-zookeeper keep trying. Credentials in
// Config.Auth are still added first.
func NoWait() Option {
	return func(o *dialOptions) { o.noWait = true }
}

// Events stores the connection's event channel in *ch; go-zookeeper closes it
// once the connection is closed.
func Events(ch *<-chan zk.Event) Option {
	return func(o *dialOptions) { o.events = ch }
}

// Dial opens a go-zookeeper connection, waits until a session is established or
// ctx ends, and adds the digest credentials (go-zookeeper re-sends them on every
// reconnect). go-zookeeper's own messages go to logger.
func Dial(ctx context.Context, cfg Config, logger hclog.Logger, opts ...Option) (*zk.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o dialOptions
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	extra := func(c *zk.Conn) {
		for _, f := range o.conn {
			f(c)
		}
	}
	conn, events, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithLogger(NewLogger(logger)),
		zk.WithEventCallback(o.onEvent),
		extra)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	if !o.noWait {
		if err := waitSession(ctx, conn); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if cfg.Auth != "" {
		if err := conn.AddAuth("digest", []byte(cfg.Auth)); err != nil {
			conn.Close()
			// The error is go-zookeeper's, which never carries the credentials.
			return nil, fmt.Errorf("%w: add digest auth: %w", ErrConnect, err)
		}
	}
	if o.events != nil {
		*o.events = events
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
