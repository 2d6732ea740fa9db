package client

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/failover/site"
)

// HostProvider is a zk.HostProvider over the servers of all sites that hands
// out only servers of the site a Monitor says is active. It serves exactly one
// *zk.Conn and must be given to it together with its Dial method:
//
//	zk.Connect(servers, timeout, zk.WithHostProvider(hp), zk.WithDialer(hp.Dial))
//
// go-zookeeper asks for a server only when it (re)connects. So when the active
// site changes, the provider closes the connection it dialed; the client
// reconnects through Next and lands on the new active site. While no site is
// active (for example between fencing one site and promoting the other) Dial
// refuses every connection, which holds the client off.
//
// A session never moves between ensembles, and a server refuses a client that
// has seen a higher zxid than its own, which the other ensemble's client often
// has. go-zookeeper v1.0.4 forgets its last zxid only when a server declares the
// session expired, which the refusing server never does. So on the first
// connection to another site than the one the session was made on, Dial clears
// the last-zxid field of the connect request (see handshake.go). The new site
// then answers as for any unknown session: expired. go-zookeeper reports
// StateExpired, fails pending requests and watches with ErrSessionExpired, and
// opens a fresh session on the new site, within the same *zk.Conn. Applications
// handle it like any session expiry (re-create ephemerals, re-set watches).
type HostProvider struct {
	mon *Monitor
	log hclog.Logger

	// mu guards everything below. Lock order: the monitor's lock, then mu (the
	// monitor calls onView with its lock held; nothing here calls the monitor
	// with mu held except Sites, which takes no lock).
	mu          sync.Mutex
	siteOf      map[string]string   // server -> site
	servers     map[string][]string // site -> servers, in Init's order
	next        map[string]int      // site -> index of the next server to hand out
	attempts    int                 // Next calls since Connected or the last retryStart
	target      string              // the active site, "" when none
	last        string              // the server Next returned last
	sessionSite string              // site the current session was made on
	movingTo    string              // site a fresh session was last asked of
	conn        *trackedConn        // the connection Dial made last
	unsubscribe func()
	keepZxid    bool // tests: leave connect requests alone, to show the refusal
}

var _ zk.HostProvider = (*HostProvider)(nil)

// NewHostProvider returns a provider that follows mon; mon must be running (or
// about to run) for the provider to learn the active site. logger may be nil.
func NewHostProvider(mon *Monitor, logger hclog.Logger) *HostProvider {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	p := &HostProvider{
		mon:     mon,
		log:     logger.Named("host-provider"),
		siteOf:  map[string]string{},
		servers: map[string][]string{},
		next:    map[string]int{},
	}
	for _, s := range mon.Sites() {
		for _, addr := range zk.FormatServers(s.Servers) {
			p.siteOf[addr] = s.Name
		}
	}
	p.target = mon.View().Active
	p.unsubscribe = mon.Subscribe(p.onView)
	return p
}

// Init is called by zk.Connect with its (shuffled) server list: every server
// must belong to one of the monitor's sites. Servers of a site missing from the
// list are never used.
func (p *HostProvider) Init(servers []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.servers = map[string][]string{}
	for _, addr := range zk.FormatServers(servers) {
		site, ok := p.siteOf[addr]
		if !ok {
			return fmt.Errorf("%w: server %s belongs to no site", ErrInvalidConfig, addr)
		}
		p.servers[site] = append(p.servers[site], addr)
	}
	return nil
}

// Len returns the number of servers of all sites.
func (p *HostProvider) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.servers {
		n += len(s)
	}
	return n
}

// Next returns the next server of the active site. retryStart is true once all
// of that site's servers were tried without Connected, and on every call while
// no site is active, so go-zookeeper pauses a second between rounds.
func (p *HostProvider) Next() (server string, retryStart bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	site := p.target
	list := p.servers[site]
	if len(list) == 0 {
		// No active site: hand out any server; Dial refuses it.
		for _, s := range p.mon.Sites() {
			if l := p.servers[s.Name]; len(l) > 0 {
				site, list = s.Name, l
				break
			}
		}
	}
	server = list[p.next[site]%len(list)]
	p.next[site]++
	if p.siteOf[p.last] != site {
		// A new site gets a full round before go-zookeeper pauses.
		p.attempts = 0
	}
	p.attempts++
	round := len(p.servers[p.target]) // 0 while no site is active
	if p.attempts > round {
		retryStart, p.attempts = true, 1
	}
	p.last = server
	return server, retryStart
}

// Connected records that the server Next returned last gave the client a
// session.
func (p *HostProvider) Connected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts = 0
	site := p.siteOf[p.last]
	if site != p.sessionSite {
		p.log.Info("client session on site", "site", site, "server", p.last)
	}
	p.sessionSite, p.movingTo = site, ""
}

// Dial is the zk.Dialer to use with this provider. It refuses servers outside
// the active site (site.ErrNotActive), remembers the connection so a change of the
// active site can close it, and makes a connect request to another site than
// the session's ask for a fresh session.
func (p *HostProvider) Dial(network, address string, timeout time.Duration) (net.Conn, error) {
	p.mu.Lock()
	name, target := p.siteOf[address], p.target
	p.mu.Unlock()
	if name != target || target == "" {
		return nil, fmt.Errorf("%w: %s belongs to site %q, active site is %q", site.ErrNotActive, address, name, target)
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.target != name {
		c.Close()
		return nil, fmt.Errorf("%w: site %q stopped being active while dialing %s", site.ErrNotActive, name, address)
	}
	// go-zookeeper uses one connection at a time and dials only after the last
	// one is done; it does not always close it (a refused handshake), so do it.
	if p.conn != nil {
		p.conn.Close()
	}
	tc := &trackedConn{Conn: c, site: name}
	if p.sessionSite != "" && p.sessionSite != name && !p.keepZxid {
		if p.movingTo != name {
			p.log.Info("moving client to another site: asking for a fresh session", "from", p.sessionSite, "to", name)
			p.movingTo = name
			// The expected answer is "session expired", after which
			// go-zookeeper reconnects at once: no pause before that.
			p.attempts = 0
		}
		tc.Conn = newFreshSessionConn(c)
	}
	p.conn = tc
	return tc, nil
}

// Target returns the site the provider currently sends the client to, "" when
// none is active.
func (p *HostProvider) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// Close stops following the monitor. The *zk.Conn is the caller's to close.
func (p *HostProvider) Close() {
	p.unsubscribe()
}

func (p *HostProvider) onView(v View) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v.Active == p.target {
		return
	}
	p.log.Info("active site changed", "from", p.target, "to", v.Active, "epoch", v.Epoch)
	p.target = v.Active
	p.attempts = 0 // the new site gets a full round before a pause
	if p.conn != nil && p.conn.site != v.Active {
		// The client's read loop fails, and it reconnects through Next.
		p.conn.Close()
	}
}

// trackedConn remembers which site a connection goes to.
type trackedConn struct {
	net.Conn
	site string
}
