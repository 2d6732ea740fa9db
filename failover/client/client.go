package client

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
)

// ClientConfig configures Connect.
type ClientConfig struct {
	// Sites are both sites of the pair with their servers.
	Sites []Site
	// SessionTimeout of the client's session (and of the monitor's sessions).
	SessionTimeout time.Duration
	// MonitorAuth is optional digest credentials ("user:password") the monitor
	// uses to read the site records. The client's own credentials are added on
	// the returned *zk.Conn with AddAuth as usual; go-zookeeper re-sends them to
	// every server, on either site. Never logged.
	MonitorAuth string
	Logger      hclog.Logger
	// Options are more go-zookeeper options (zk.WithLogger, zk.WithEventCallback,
	// ...), applied after the client's own. Do not replace the host provider or
	// the dialer.
	Options []func(*zk.Conn)
}

// DefaultClientConfig returns the defaults; Sites must still be filled in.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{SessionTimeout: 10 * time.Second}
}

// Validate reports a config Connect cannot use.
func (c ClientConfig) Validate() error {
	return validateSites(c.Sites, c.SessionTimeout)
}

// Connect opens a go-zookeeper client that follows the active site. It starts a
// Monitor of the site records, waits until every site has been read (or could
// not be) or ctx ends, and returns zk.Connect's connection and events, made with
// a HostProvider and its dialer. ctx bounds only that wait; the monitor lives
// until the returned *zk.Conn is closed, after which the event channel is
// closed. If no site is active yet, the client connects as soon as one is.
//
// When the active site changes the client moves within the same *zk.Conn: its
// connection is closed, its session is reported expired (StateExpired) and a new
// session starts on the new active site. See HostProvider.
func Connect(ctx context.Context, cfg ClientConfig) (*zk.Conn, <-chan zk.Event, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	mon, err := NewMonitor(MonitorConfig{
		Sites:          cfg.Sites,
		SessionTimeout: cfg.SessionTimeout,
		Auth:           cfg.MonitorAuth,
		Logger:         log,
	})
	if err != nil {
		return nil, nil, err
	}
	monCtx, stopMon := context.WithCancel(context.Background())
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		if err := mon.Run(monCtx); err != nil {
			log.Error("site monitor stopped", "error", err)
		}
	}()
	stop := func() { stopMon(); <-monDone }

	select {
	case <-mon.Ready():
	case <-ctx.Done():
		stop()
		return nil, nil, fmt.Errorf("read site records: %w", ctx.Err())
	}
	if v := mon.View(); v.Active == "" {
		log.Warn("no site is active yet; the client waits for one")
	}

	hp := NewHostProvider(mon, log)
	var servers []string
	for _, s := range cfg.Sites {
		servers = append(servers, s.Servers...)
	}
	extra := func(c *zk.Conn) {
		for _, o := range cfg.Options {
			o(c)
		}
	}
	var events <-chan zk.Event
	conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: servers, SessionTimeout: cfg.SessionTimeout}, log.Named("zk"),
		zkconn.NoWait(), zkconn.Events(&events),
		zkconn.WithConnOptions(zk.WithHostProvider(hp), zk.WithDialer(hp.Dial), zk.WithLogInfo(false), extra))
	if err != nil {
		hp.Close()
		stop()
		return nil, nil, fmt.Errorf("connect: %w", err)
	}

	// go-zookeeper closes its event channel once the *zk.Conn is closed and its
	// loop has ended: that is when the monitor is no longer needed.
	out := make(chan zk.Event, 64)
	go func() {
		defer close(out)
		for ev := range events {
			select {
			case out <- ev:
			default: // like go-zookeeper: an unread channel drops events
			}
		}
		hp.Close()
		stop()
	}()
	return conn, out, nil
}
