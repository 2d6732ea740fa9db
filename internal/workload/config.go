package workload

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// Config says which ensemble to drive, how big a tree to build and what mix
// to run on it.
type Config struct {
	// Servers is the primary ensemble ("host:port" each).
	Servers []string
	// SessionTimeout is every session's timeout.
	SessionTimeout time.Duration
	// Auth, "user:password", adds digest credentials to every session. The
	// workload's nodes are open to all (world:anyone), as most applications'
	// are. Never logged.
	Auth string

	// Prefix is put before every root ("/app" gives /app/brokers, /app/locks,
	// ...); "" puts the roots at the top level, where the applications keep
	// them. Populate creates it.
	Prefix string
	// Seed makes the sequence of operations: the same seed and Config give
	// the same sequence.
	Seed uint64

	// Size is how many znodes Populate builds, about.
	Size int
	// Brokers is the number of Kafka brokers (ids 1..Brokers), each with a
	// session; ReplicationFactor the replicas of every partition.
	Brokers           int
	ReplicationFactor int
	// LockClients and ServiceHosts are the sessions that own lock nodes and
	// service instances.
	LockClients  int
	ServiceHosts int
	// Queues and Collections are how many queues and Solr collections there
	// are; StateMin and StateMax bound the size of a collection's state.json
	// (ZooKeeper's limit is about 1 MB).
	Queues      int
	Collections int
	StateMin    int
	StateMax    int

	// Rate is Run's operations per second; 0 runs as fast as the lanes go.
	Rate float64
	// Ops stops Run after this many operations; 0 runs until its context ends.
	Ops int64
	// Mix weighs the kinds Run draws; nil means DefaultMix. A kind left out or
	// weighted 0 is never drawn.
	Mix map[Kind]int
	// MultiChunk bounds the operations of one Multi (partition states, subtree
	// deletes, Populate's batches).
	MultiChunk int
	// RetryFor bounds the retries of one request after a connection loss.
	RetryFor time.Duration

	// Record, if set, is called with every operation once it is done (one call
	// at a time, from the lanes: sort by Seq for the sequence).
	Record func(Op)
	// Logger gets the workload's messages and go-zookeeper's.
	Logger hclog.Logger
}

// DefaultConfig is a tree of about 2,000 znodes at the top level, the default
// mix as fast as it goes; Servers must still be set.
func DefaultConfig() Config {
	return Config{
		SessionTimeout:    10 * time.Second,
		Seed:              1,
		Size:              2000,
		Brokers:           5,
		ReplicationFactor: 3,
		LockClients:       4,
		ServiceHosts:      4,
		Queues:            4,
		Collections:       6,
		StateMin:          10_000,
		StateMax:          60_000,
		MultiChunk:        50,
		RetryFor:          30 * time.Second,
	}
}

// MinSize is the smallest Size: enough for every shape and one topic.
const MinSize = 200

// maxData stays below ZooKeeper's default jute.maxbuffer (1 MB) with room
// for the request around it.
const maxData = 900_000

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case len(c.Servers) == 0:
		return bad("no servers")
	case slices.Contains(c.Servers, ""):
		return bad("an empty server address")
	case c.SessionTimeout <= 0:
		return bad("session timeout must be positive")
	case c.Auth != "" && !strings.Contains(c.Auth, ":"):
		// The value is a secret: do not echo it.
		return bad("auth must be \"user:password\"")
	case c.Prefix != "" && (c.Prefix[0] != '/' || path.Clean(c.Prefix) != c.Prefix || c.Prefix == "/"):
		return bad("prefix must be \"\" or a clean absolute path below /, not %q", c.Prefix)
	case zkpath.IsAlwaysExcluded(c.Prefix):
		return bad("prefix %q is in a reserved subtree", c.Prefix)
	case c.Size < MinSize:
		return bad("size must be at least %d, got %d", MinSize, c.Size)
	case c.Brokers < 1 || c.Brokers > 1000:
		return bad("brokers must be 1..1000, got %d", c.Brokers)
	case c.ReplicationFactor < 1 || c.ReplicationFactor > c.Brokers:
		return bad("replication factor must be 1..brokers (%d), got %d", c.Brokers, c.ReplicationFactor)
	case c.LockClients < 1 || c.ServiceHosts < 1 || c.Queues < 1 || c.Collections < 1:
		return bad("lock clients, service hosts, queues and collections must be at least 1")
	case c.StateMin < 1000 || c.StateMax < c.StateMin || c.StateMax > maxData:
		return bad("state sizes must satisfy 1000 ≤ min ≤ max ≤ %d, got %d..%d", maxData, c.StateMin, c.StateMax)
	case c.Rate < 0:
		return bad("rate must not be negative")
	case c.Ops < 0:
		return bad("ops must not be negative")
	case c.MultiChunk < 1 || c.MultiChunk > 1000:
		return bad("multi chunk must be 1..1000, got %d", c.MultiChunk)
	case c.RetryFor <= 0:
		return bad("retry time must be positive")
	}
	if c.Mix != nil {
		total := 0
		for k, v := range c.Mix {
			if !slices.Contains(Kinds, k) {
				return bad("unknown kind %q in the mix", k)
			}
			if v < 0 {
				return bad("weight of %s must not be negative", k)
			}
			total += v
		}
		if total == 0 {
			return bad("the mix weighs nothing")
		}
	}
	return nil
}

// mix is the weights in Kinds order, for a draw that does not depend on map
// order.
func (c Config) mix() (kinds []Kind, cum []int) {
	m := c.Mix
	if m == nil {
		m = DefaultMix()
	}
	total := 0
	for _, k := range Kinds {
		if w := m[k]; w > 0 {
			total += w
			kinds, cum = append(kinds, k), append(cum, total)
		}
	}
	return kinds, cum
}
