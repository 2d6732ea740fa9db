package natsserver

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats-server/v2/server"
)

// ClusterConfig describes a JetStream cluster of servers at one site: every
// server has the site's JetStream domain, its own name (site-1, site-2...),
// its own client and leaf ports and store, and routes to all the others.
type ClusterConfig struct {
	// Server is what every server shares: Site (the domain and the cluster's
	// name), SyncAlways, MaxPayload, LeafRemotes, Configure, Logger... Port and
	// LeafPort must be 0 (random) or NoLeafListener; StoreDir, if set, gets a
	// directory per server.
	Server Config
	// Size is the number of servers; 0 = 3.
	Size int
}

// Cluster is a JetStream cluster at one site. A server stopped with Stop keeps
// its ports and store; Restart brings it back into the cluster.
type Cluster struct {
	cfg     ClusterConfig
	servers []*Server
	routes  []int // route port of each server

	mu      sync.Mutex
	stopped map[int]bool
}

// StartCluster starts cfg.Size servers and returns once every server is routed
// to all the others and the JetStream meta group has a leader that every server
// follows.
func StartCluster(cfg ClusterConfig) (*Cluster, error) {
	if cfg.Size == 0 {
		cfg.Size = 3
	}
	if cfg.Size < 1 {
		return nil, fmt.Errorf("%w: cluster size %d", ErrInvalidConfig, cfg.Size)
	}
	if cfg.Server.Port != 0 || cfg.Server.LeafPort > 0 {
		return nil, fmt.Errorf("%w: a cluster's servers take random client and leaf ports", ErrInvalidConfig)
	}
	if err := cfg.Server.Validate(); err != nil {
		return nil, err
	}
	if cfg.Server.ReadyTimeout == 0 {
		cfg.Server.ReadyTimeout = DefaultConfig().ReadyTimeout
	}
	c := &Cluster{cfg: cfg, stopped: map[int]bool{}}
	// Every server needs every other's route address in its options before
	// any of them starts, so the route ports are picked up front. Another
	// process taking one in between shows as a cluster that never forms.
	for i := 0; i < cfg.Size; i++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c.routes = append(c.routes, port)
	}
	for i := 0; i < cfg.Size; i++ {
		s, err := Start(c.serverConfig(i))
		if err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("start %s: %w", c.name(i), err)
		}
		c.servers = append(c.servers, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*cfg.Server.ReadyTimeout)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// StartClusterT is StartCluster for tests: stores live in t.TempDir() and the
// cluster is shut down in t.Cleanup.
func StartClusterT(t TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	if cfg.Server.StoreDir == "" {
		cfg.Server.StoreDir = t.TempDir()
	}
	c, err := StartCluster(cfg)
	if err != nil {
		t.Fatalf("start nats cluster %s: %v", cfg.Server.Site, err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

func (c *Cluster) name(i int) string { return fmt.Sprintf("%s-%d", c.cfg.Server.Site, i+1) }

// serverConfig is server i's Config: the shared one plus its name, store and
// cluster options (set through Configure, before the caller's own Configure).
func (c *Cluster) serverConfig(i int) Config {
	sc := c.cfg.Server
	if sc.StoreDir != "" {
		sc.StoreDir = filepath.Join(sc.StoreDir, c.name(i))
	}
	user := sc.Configure
	name, site, own := c.name(i), sc.Site, c.routes[i]
	var routes []*url.URL
	for j, port := range c.routes {
		if j != i {
			routes = append(routes, &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
		}
	}
	sc.Configure = func(o *server.Options) {
		o.ServerName = name
		o.Cluster.Name = site
		o.Cluster.Host = "127.0.0.1"
		o.Cluster.Port = own
		o.Routes = routes
		if user != nil {
			user(o)
		}
	}
	return sc
}

// WaitReady polls until every running server is routed to every other running
// one and the JetStream meta group has a leader that they all follow.
func (c *Cluster) WaitReady(ctx context.Context) error {
	op := func() error {
		running := c.running()
		leaders := 0
		for _, i := range running {
			ns := c.servers[i].NATS()
			if ns == nil {
				return fmt.Errorf("%s is down", c.name(i))
			}
			if n := ns.NumRemotes(); n < len(running)-1 {
				return fmt.Errorf("%s has routes to %d servers, want %d", c.name(i), n, len(running)-1)
			}
			if !ns.JetStreamIsCurrent() {
				return fmt.Errorf("%s does not follow a jetstream meta leader", c.name(i))
			}
			if ns.JetStreamIsLeader() {
				leaders++
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d jetstream meta leaders", leaders)
		}
		return nil
	}
	var last error
	err := backoff.Retry(func() error { last = op(); return last },
		backoff.WithContext(backoff.NewConstantBackOff(100*time.Millisecond), ctx))
	if err != nil {
		return fmt.Errorf("%w: cluster %s: %v", ErrNotReady, c.cfg.Server.Site, last)
	}
	return nil
}

func (c *Cluster) running() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i := range c.servers {
		if !c.stopped[i] {
			out = append(out, i)
		}
	}
	return out
}

// Size is the number of servers, running or not.
func (c *Cluster) Size() int { return len(c.servers) }

// Server returns server i (0-based).
func (c *Cluster) Server(i int) *Server { return c.servers[i] }

// Domain is the JetStream domain, the site name.
func (c *Cluster) Domain() string { return c.cfg.Server.Site }

// ClientURLs are the client URLs of every server, running or not: what a
// client lists to fail over between them.
func (c *Cluster) ClientURLs() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.ClientURL()
	}
	return out
}

// LeafURLs are the leaf listeners of every server, for one leaf remote that
// fails over between them.
func (c *Cluster) LeafURLs() []string {
	var out []string
	for _, s := range c.servers {
		if u := s.LeafURL(); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// LeafRemote is one leafnode remote that dials every server's leaf listener in
// turn, for a leaf site's Configure (o.LeafNode.Remotes). One remote, not one
// per server: the cluster is one hub, and a leaf connects to it once.
func (c *Cluster) LeafRemote() *server.RemoteLeafOpts {
	r := &server.RemoteLeafOpts{}
	for _, s := range c.servers {
		if a := s.LeafAddr(); a != "" {
			r.URLs = append(r.URLs, &url.URL{Scheme: "nats-leaf", Host: a})
		}
	}
	return r
}

// StreamLeader returns the index of the running server that leads stream (in
// the global account), or -1 when none does right now.
func (c *Cluster) StreamLeader(stream string) int {
	for _, i := range c.running() {
		if ns := c.servers[i].NATS(); ns != nil && ns.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// Stop shuts server i down, as a crash of its machine would take it away; its
// ports and store are kept for Restart. (An embedded server cannot be killed
// with a signal; Shutdown closes its connections and files without flushing
// anything a crash would not.)
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	c.stopped[i] = true
	c.mu.Unlock()
	c.servers[i].stop()
}

// Restart starts a stopped server again with its ports and store; it rejoins
// the cluster and catches its streams up. It returns once the server accepts
// connections; WaitReady waits for it to be routed and current.
func (c *Cluster) Restart(i int) error {
	if err := c.servers[i].Restart(); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.stopped, i)
	c.mu.Unlock()
	return nil
}

// Shutdown stops every server for good and removes the stores Start made.
func (c *Cluster) Shutdown() {
	var wg sync.WaitGroup
	for _, s := range c.servers {
		wg.Add(1)
		go func() { defer wg.Done(); s.Shutdown() }()
	}
	wg.Wait()
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a route port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
