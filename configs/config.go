package configs

import (
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
	"github.com/zkdr/zkdr/replicator/source"
)

// Role is the role a site starts in before its ensemble holds a site record.
type Role string

// The roles a config may name. A third role, fenced, exists only in site records.
const (
	RoleActive  Role = "active"
	RoleStandby Role = "standby"
)

// EphemeralMode says what the source does with ephemeral nodes.
type EphemeralMode string

const (
	// EphemeralSkip leaves ephemeral nodes out: they belong to sessions, which
	// do not move between ensembles.
	EphemeralSkip EphemeralMode = "skip"
	// EphemeralPersistent replicates ephemeral nodes as persistent ones, for
	// the rare tree whose ephemeral data must survive a failover.
	EphemeralPersistent EphemeralMode = "persistent"
)

// Config is one site's zkdr configuration. The same schema serves both sites of
// a pair; what the daemon does follows the site's role.
type Config struct {
	// Site is this site's name. It names the journal stream (ZKDR_<site>) and
	// is the default JetStream domain.
	Site string
	// InitialRole applies only while the site's ensemble has no site record;
	// from then on the record rules. Default standby, which never writes.
	InitialRole Role

	ZooKeeper   ZooKeeper
	NATS        NATS
	Peer        Peer
	Journal     Journal
	Replication Replication
	Source      Source
	Applier     Applier
	AntiEntropy AntiEntropy
	Failover    Failover
	HA          HA
	Metrics     Metrics
	Log         Log

	// src lets Validate name the file, line and field of a value that came
	// from a config file; nil for a Config built in code. A pointer, so that
	// printing a Config shows an address rather than every position.
	src *origin
}

// origin is where a parsed Config came from.
type origin struct {
	file string
	pos  map[string]hcl.Range // dotted field or block path -> its range
}

// ZooKeeper is how zkdr reaches one site's ensemble.
type ZooKeeper struct {
	// Servers are "host:port" addresses (a missing port means 2181).
	Servers        []string
	SessionTimeout time.Duration
	// Auth is digest credentials "user:password", added to the session with
	// AddAuth("digest", ...). The standby's applier needs an identity allowed
	// everywhere (the ensemble's superDigest user).
	Auth Secret
	// Chroot, if set, is prefixed to every path zkdr uses on this ensemble.
	Chroot string
}

// ConnectString is the servers joined by commas with the chroot appended, the
// form ZooKeeper clients and ZKDR_CONNECT use.
func (z ZooKeeper) ConnectString() string {
	return strings.Join(z.Servers, ",") + z.Chroot
}

// NATS is how zkdr reaches one site's NATS server or cluster.
type NATS struct {
	// URLs are the server URLs; the config's url accepts one string or a list.
	URLs []string
	// Domain is the site's JetStream domain; it defaults to the site name.
	Domain string
	// Creds is the path of a NATS .creds file (JWT and nkey seed).
	Creds    string
	User     string
	Password Secret
	Token    Secret
	TLS      TLS
}

// URL is the URLs joined by commas, the form nats.Connect accepts.
func (n NATS) URL() string { return strings.Join(n.URLs, ",") }

// TLS holds file paths for a TLS connection to NATS. Relative paths in a config
// file are resolved against the file's directory.
type TLS struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Enabled reports whether any TLS file is configured.
func (t TLS) Enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// Peer is the other site of the pair.
type Peer struct {
	// Name is the peer's site name (the label of the peer block).
	Name string
	// ZooKeeper is the peer's ensemble: promotion fences it, switchover and
	// status read its site record, and clients move between both lists.
	ZooKeeper ZooKeeper
	// NATS.Domain is the peer's JetStream domain (default: the peer's name),
	// reached through this site's NATS over the leafnode link. URLs are
	// optional: a direct connection used for status and fencing.
	NATS NATS
}

// Journal is how this site's journal stream is provisioned and written.
type Journal struct {
	// Replicas is the JetStream replication factor; production sites use 3.
	Replicas int
	// MaxAge, MaxBytes and MaxMsgs bound retention; 0 means unlimited.
	MaxAge   time.Duration
	MaxBytes int64
	MaxMsgs  int64
	// DuplicateWindow is how long JetStream drops re-sent messages by id.
	DuplicateWindow time.Duration
	// SyncAlways says the site's NATS servers run with sync_interval: always.
	// zkdr cannot set it on a remote server; it is applied to servers zkdr
	// embeds (zkdr dev) and recorded for status.
	SyncAlways bool
	// MaxBatchBytes and Linger bound how many consecutive events go into one
	// journal message.
	MaxBatchBytes int
	Linger        time.Duration
}

// Replication is the replicated scope.
type Replication struct {
	// Include lists the subtrees to replicate.
	Include []string
	// Exclude lists subtrees left out; /zookeeper and /zkdr are always in it.
	Exclude []string
	// Ephemeral is what happens to ephemeral nodes.
	Ephemeral EphemeralMode
	// Mapping, if set, moves the replicated tree from one prefix on the active
	// site to another on the standby.
	Mapping *Mapping
	// Modes declares container and TTL nodes. ZooKeeper reports both to
	// clients as persistent (an ephemeral owner of 0), so no watcher can see
	// these modes: the operator names them, and the standby creates matching
	// nodes with that mode. First matching rule wins.
	Modes []ModeRule
}

// NodeKind is a node mode a ModeRule can declare.
type NodeKind string

const (
	KindContainer NodeKind = "container"
	KindTTL       NodeKind = "ttl"
)

// ModeRule gives the nodes whose path matches Pattern (path.Match syntax over
// the whole path: "/app/locks/*" matches each lock node, not its children)
// the mode Kind, with TTL for KindTTL.
type ModeRule struct {
	Pattern string
	Kind    NodeKind
	TTL     time.Duration
}

// MaxTTL is the largest TTL ZooKeeper accepts (40 bits of milliseconds).
const MaxTTL = time.Duration(1<<40-1) * time.Millisecond

// Mapping replaces the prefix From of a source path with To on the standby.
type Mapping struct {
	From string
	To   string
}

// Source tunes the daemon when its site is active.
type Source struct {
	// HeartbeatInterval is how often /zkdr/heartbeat is written; it bounds
	// how stale the standby's watermark can be when nothing else changes.
	HeartbeatInterval time.Duration
	// ACLRecheckInterval is how often ACLs are re-read (ZooKeeper has no ACL
	// watch); 0 turns it off.
	ACLRecheckInterval time.Duration
	// SnapshotInterval and SnapshotEveryEvents take periodic snapshots so
	// retention can be bounded while replay stays possible; 0 means only at
	// bootstrap.
	SnapshotInterval    time.Duration
	SnapshotEveryEvents int64
	// Watch is how the active tree is watched: "auto" (a persistent
	// recursive watch, one-shot watches on ZooKeeper before 3.6),
	// "recursive" (refuse to start without one) or "one-shot".
	Watch string
}

// Source.Watch values, the source's own.
const (
	WatchAuto      = source.WatchAuto
	WatchRecursive = source.WatchRecursive
	WatchOneShot   = source.WatchOneShot
)

// Applier tunes the daemon when its site is standby.
type Applier struct {
	// MaxBatchOps and MaxBatchBytes bound one Multi; bytes must stay under the
	// standby's jute.maxbuffer (1 MiB by default).
	MaxBatchOps   int
	MaxBatchBytes int
	// DeleteGuardShare pauses the applier before a group of deletes that
	// would leave the replicated tree more than this share below the most it
	// held within DeleteGuardWindow of primary time (queue items and other
	// sequence-named nodes are not counted).
	DeleteGuardShare float64
	// DeleteGuardMinNodes keeps the guard quiet while the tree is fewer than
	// this many nodes below that peak, so a small tree is not paused by an
	// ordinary delete.
	DeleteGuardMinNodes int
	// DeleteGuardWindow is how much primary time the guard looks back over.
	DeleteGuardWindow time.Duration
	// IndexFile is where the applier keeps its index of the standby from a
	// clean stop to the next start (a warm start); "" walks the standby at
	// every start.
	IndexFile string
	// GuardHooks run when the delete guard pauses this site's applier and when
	// it is released, with ZKDR_SITE, ZKDR_GUARD (paused or released),
	// ZKDR_GUARD_FIRST_SEQ, ZKDR_GUARD_DELETES, ZKDR_GUARD_SHRINK,
	// ZKDR_GUARD_PEAK and ZKDR_GUARD_SINCE in their environment.
	GuardHooks []Hook
}

// AntiEntropy tunes the standby daemon's background comparison of the two
// sites' trees, which reports divergence that the journal cannot show (an ACL
// change ZooKeeper does not announce, a write made directly on the standby).
type AntiEntropy struct {
	// Interval is the pause between two passes over the replicated scope; 0
	// turns anti-entropy off.
	Interval time.Duration
	// ReadsPerSecond bounds the reads one pass makes on each ensemble.
	ReadsPerSecond int
}

// Failover tunes promotion and switchover.
type Failover struct {
	// MaxLagForSwitchover is the largest replication lag at which a planned
	// switchover starts.
	MaxLagForSwitchover time.Duration
	// Hooks run on every role change of this site, in order.
	Hooks []Hook
	// ActiveConnectFile, if set, is a file the daemon rewrites with the active
	// site's connect string on every role change, for clients that read it.
	ActiveConnectFile string
}

// Hook is a command run on a role change with ZKDR_SITE, ZKDR_ROLE,
// ZKDR_EPOCH and ZKDR_CONNECT in its environment.
type Hook struct {
	Name    string
	Command []string
	Timeout time.Duration
}

// HA configures several daemons of one site, one of them leading.
type HA struct {
	// Election turns on leader election among the site's daemons.
	Election bool
	// NodeID names this daemon in the election; "" means the host name.
	NodeID string
}

// Metrics is where /metrics and /healthz are served; "" turns them off.
type Metrics struct {
	Listen string
}

// Log configures the daemon's hclog logger.
type Log struct {
	// Level is trace, debug, info, warn or error.
	Level string
	// Format is text or json.
	Format string
}

// Default returns a Config with every default set and no site, servers or
// peer: it does not validate until those are filled in. The numbers of the
// source, the applier and the appender are their components' own defaults
// (source.DefaultConfig, applier.DefaultConfig, journal.DefaultAppenderConfig).
func Default() *Config {
	src := source.DefaultConfig()
	app := applier.DefaultConfig()
	jrn := journal.DefaultAppenderConfig("")
	return &Config{
		InitialRole: RoleStandby,
		ZooKeeper:   ZooKeeper{SessionTimeout: src.SessionTimeout},
		Journal: Journal{
			Replicas:        1,
			DuplicateWindow: 2 * time.Minute,
			MaxBatchBytes:   jrn.MaxBatchBytes,
			Linger:          jrn.Linger,
		},
		Replication: Replication{
			Include:   []string{"/"},
			Exclude:   zkpath.AlwaysExcluded(),
			Ephemeral: EphemeralSkip,
		},
		Source: Source{
			HeartbeatInterval:  src.HeartbeatInterval,
			ACLRecheckInterval: src.ACLRecheckInterval,
			Watch:              src.Watch,
		},
		Applier: Applier{
			MaxBatchOps:         app.MaxBatchOps,
			MaxBatchBytes:       app.MaxBatchBytes,
			DeleteGuardShare:    app.DeleteGuardShare,
			DeleteGuardMinNodes: app.DeleteGuardMinNodes,
			DeleteGuardWindow:   app.DeleteGuardWindow,
		},
		AntiEntropy: AntiEntropy{Interval: 10 * time.Minute, ReadsPerSecond: 200},
		Failover:    Failover{MaxLagForSwitchover: 5 * time.Second},
		Metrics:     Metrics{Listen: "127.0.0.1:9464"},
		Log:         Log{Level: "info", Format: "text"},
	}
}

// DefaultHookTimeout is how long a hook may run when its block sets no timeout.
const DefaultHookTimeout = 30 * time.Second

// File is the name of the file the Config was parsed from, "" if built in code.
func (c *Config) File() string {
	if c.src == nil {
		return ""
	}
	return c.src.file
}

// complete fills the defaults that depend on other fields and adds the
// subtrees that are never replicated.
func (c *Config) complete() {
	if c.NATS.Domain == "" {
		c.NATS.Domain = c.Site
	}
	if c.Peer.NATS.Domain == "" {
		c.Peer.NATS.Domain = c.Peer.Name
	}
	if c.Peer.ZooKeeper.SessionTimeout == 0 {
		c.Peer.ZooKeeper.SessionTimeout = c.ZooKeeper.SessionTimeout
	}
	for _, p := range zkpath.AlwaysExcluded() {
		if !slices.Contains(c.Replication.Exclude, p) {
			c.Replication.Exclude = append(c.Replication.Exclude, p)
		}
	}
}
