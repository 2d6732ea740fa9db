package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkconn"
)

// Site names one site and the client addresses of its ZooKeeper servers.
type Site struct {
	Name    string
	Servers []string // "host:port"; a missing port means 2181
}

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	// Sites are the sites whose records are watched (both sites of a pair).
	Sites []Site
	// SessionTimeout of the monitor's own ZooKeeper sessions.
	SessionTimeout time.Duration
	// Auth is optional digest credentials ("user:password") for reading the
	// records when their ACL requires it. Never logged.
	Auth   string
	Logger hclog.Logger
}

// DefaultMonitorConfig returns the defaults; Sites must still be filled in.
func DefaultMonitorConfig() MonitorConfig {
	return MonitorConfig{SessionTimeout: 10 * time.Second}
}

// Validate reports a config a Monitor cannot run with.
func (c MonitorConfig) Validate() error {
	return validateSites(c.Sites, c.SessionTimeout)
}

func validateSites(sites []Site, sessionTimeout time.Duration) error {
	if len(sites) == 0 {
		return fmt.Errorf("%w: no sites", ErrInvalidConfig)
	}
	seenSite := map[string]bool{}
	seenServer := map[string]string{}
	for _, s := range sites {
		if s.Name == "" {
			return fmt.Errorf("%w: a site has no name", ErrInvalidConfig)
		}
		if seenSite[s.Name] {
			return fmt.Errorf("%w: site %q is listed twice", ErrInvalidConfig, s.Name)
		}
		seenSite[s.Name] = true
		if len(s.Servers) == 0 {
			return fmt.Errorf("%w: site %q has no servers", ErrInvalidConfig, s.Name)
		}
		for _, addr := range zk.FormatServers(s.Servers) {
			if other, ok := seenServer[addr]; ok {
				return fmt.Errorf("%w: server %s is in sites %q and %q", ErrInvalidConfig, addr, other, s.Name)
			}
			seenServer[addr] = s.Name
		}
	}
	if sessionTimeout <= 0 {
		return fmt.Errorf("%w: session timeout must be positive", ErrInvalidConfig)
	}
	return nil
}

// SiteView is what a Monitor last learned about one site.
type SiteView struct {
	Site string
	// Record is the last record read; it is kept while the site is unreachable,
	// because the last word of a site that went away still counts.
	Record site.Record
	Exists bool // a record was read (site.Record is meaningful)
	// Reachable is false when the last read failed.
	Reachable bool
	// Err is the last read error, if the last read failed.
	Err error
}

// View is a Monitor's picture of all sites.
type View struct {
	// Active is the site clients belong to, "" when no site may take clients
	// (see ActiveSite), and Epoch its record's epoch.
	Active string
	Epoch  uint64
	Sites  []SiteView
}

// Monitor watches the site record of every site, each through its own
// ZooKeeper session, and keeps a View of which site is active.
type Monitor struct {
	cfg MonitorConfig
	log hclog.Logger

	mu       sync.Mutex // guards everything below
	sites    map[string]*SiteView
	tried    map[string]bool
	view     View
	topEpoch uint64 // highest epoch ever seen: an active record below it is stale
	subs     map[int]func(View)
	nextSub  int
	ready    chan struct{}
}

// NewMonitor validates cfg; it starts nothing.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	m := &Monitor{
		cfg:   cfg,
		log:   cfg.Logger.Named("site-monitor"),
		sites: map[string]*SiteView{},
		tried: map[string]bool{},
		subs:  map[int]func(View){},
		ready: make(chan struct{}),
	}
	for _, s := range cfg.Sites {
		m.sites[s.Name] = &SiteView{Site: s.Name}
	}
	m.view = m.buildView("")
	return m, nil
}

// Sites returns the configured sites.
func (m *Monitor) Sites() []Site { return slices.Clone(m.cfg.Sites) }

// Run watches every site until ctx ends; it returns nil then.
func (m *Monitor) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range m.cfg.Sites {
		g.Go(func() error { return m.watchSite(ctx, s) })
	}
	return g.Wait()
}

// Ready is closed once every site has been read, or failed to be read, once.
func (m *Monitor) Ready() <-chan struct{} { return m.ready }

// View returns the current view.
func (m *Monitor) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.view
}

// Subscribe calls fn with every new view until cancel is called. fn runs on a
// monitor goroutine with the monitor's lock held: it must be quick and must not
// call back into the Monitor.
func (m *Monitor) Subscribe(fn func(View)) (cancel func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextSub
	m.nextSub++
	m.subs[id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs, id)
	}
}

func (m *Monitor) watchSite(ctx context.Context, s Site) error {
	log := m.log.With("site", s.Name)
	conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: s.Servers, SessionTimeout: m.cfg.SessionTimeout}, log,
		zkconn.NoWait(), zkconn.WithConnOptions(zk.WithLogInfo(false)))
	if err != nil {
		return fmt.Errorf("connect to site %s: %w", s.Name, err)
	}
	defer conn.Close()
	if m.cfg.Auth != "" {
		// go-zookeeper remembers credentials only once AddAuth succeeded, so
		// keep trying while the site is unreachable.
		b := backoff.NewExponentialBackOff()
		b.MaxInterval = 5 * time.Second
		b.MaxElapsedTime = 0
		op := func() error {
			return zkconn.Do(ctx, func() error { return conn.AddAuth("digest", []byte(m.cfg.Auth)) })
		}
		onErr := func(err error, _ time.Duration) { m.update(s.Name, site.RecordState{Version: -1, Err: err}) }
		if err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), onErr); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("authenticate to site %s: %w", s.Name, err)
		}
	}
	return site.WatchRecord(ctx, conn, func(st site.RecordState) { m.update(s.Name, st) })
}

func (m *Monitor) update(name string, st site.RecordState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sv := m.sites[name]
	log := m.log.With("site", name)
	switch {
	case st.Err != nil:
		if sv.Reachable || !m.tried[name] {
			log.Warn("cannot read site record", "error", st.Err)
		}
		sv.Reachable, sv.Err = false, st.Err
	case st.Exists && st.Record.Site != name:
		err := fmt.Errorf("%w: ensemble of %q holds the record of %q", site.ErrSiteMismatch, name, st.Record.Site)
		log.Error("ignoring site record", "error", err)
		sv.Reachable, sv.Err = false, err
	default:
		sv.Reachable, sv.Err = true, nil
		sv.Exists = st.Exists
		if st.Exists {
			sv.Record = st.Record
			m.topEpoch = max(m.topEpoch, st.Record.Epoch)
			log.Debug("site record", "role", st.Record.Role, "epoch", st.Record.Epoch)
		}
	}
	m.tried[name] = true

	v := m.buildView(m.view.Active)
	if v.Active != m.view.Active || v.Epoch != m.view.Epoch {
		m.log.Info("active site changed", "from", m.view.Active, "to", v.Active, "epoch", v.Epoch)
	}
	m.view = v
	if len(m.tried) == len(m.sites) {
		select {
		case <-m.ready:
		default:
			close(m.ready)
		}
	}
	for _, fn := range m.subs {
		fn(v)
	}
}

// buildView computes the view from the sites' last known records; the caller
// holds m.mu.
func (m *Monitor) buildView(prev string) View {
	var (
		v       View
		records []site.Record
	)
	for _, s := range m.cfg.Sites {
		sv := *m.sites[s.Name]
		v.Sites = append(v.Sites, sv)
		if sv.Exists {
			records = append(records, sv.Record)
		}
	}
	if rec, ok := site.ActiveSite(records...); ok && rec.Epoch >= m.topEpoch {
		v.Active, v.Epoch = rec.Site, rec.Epoch
	} else if ok {
		m.log.Warn("ignoring stale active record", "site", rec.Site, "epoch", rec.Epoch, "highest-epoch", m.topEpoch)
	} else if prev != "" {
		m.log.Debug("no site is active")
	}
	return v
}
