package applier

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// JournalReader is the part of *journal.Reader the applier uses.
type JournalReader interface {
	// Fetch blocks until at least one message is available (or ctx ends) and
	// returns, in order, what is immediately available up to max.
	Fetch(ctx context.Context, max int) ([]journal.Message, error)
	Close() error
}

var _ JournalReader = (*journal.Reader)(nil)

// boundedReader is a JournalReader that can tell which sequences it holds
// (*journal.Reader can); the applier uses it to name the first available
// sequence when it meets a gap.
type boundedReader interface {
	Bounds(ctx context.Context) (first, last uint64, err error)
}

var _ boundedReader = (*journal.Reader)(nil)

// Config configures an Applier.
type Config struct {
	// Site is this (standby) site.
	Site string
	// Stream is the journal stream applied, for example the local mirror ZKDR_east.
	Stream string
	// Servers, SessionTimeout and Auth reach the standby ensemble. Auth is digest
	// "user:password" of an identity allowed everywhere (the superDigest user);
	// never logged.
	Servers        []string
	SessionTimeout time.Duration
	Auth           string
	// OpenReader opens the journal at startSeq; startSeq 0 means the first
	// message the journal still holds.
	OpenReader func(ctx context.Context, startSeq uint64) (JournalReader, error)
	// RequestSnapshot, if set, asks the active site for a fresh snapshot after a
	// retention gap. It should retry until it succeeds or ctx ends; the applier
	// calls it once per gap per process (again after a restart while resyncing:
	// the request may have been lost with the crash, and one snapshot more is
	// harmless). Without it the applier waits for the next periodic snapshot.
	RequestSnapshot func(ctx context.Context, reason string) error
	// MaxBatchOps and MaxBatchBytes bound one Multi (the checkpoint write included);
	// keep MaxBatchBytes well under the standby's jute.maxbuffer (1 MB by default).
	MaxBatchOps   int
	MaxBatchBytes int
	// FetchMax bounds the messages asked from the reader at once.
	FetchMax int
	// MaxInFlight bounds the checkpointed Multis sent to the standby and not
	// answered yet. Each is planned while those before it are in flight and
	// expects the checkpoint version they leave; a refusal takes back the
	// ones after it. 1 still plans the next Multi while one is in flight.
	MaxInFlight int
	// DeleteGuardShare pauses the applier before a group of deletes that would
	// leave the standby's weighed nodes more than this share below the most
	// it had within DeleteGuardWindow of primary time (see guard_rule.go)...
	DeleteGuardShare float64
	// DeleteGuardMinNodes ...and more than this many nodes below it, so that
	// small trees do not trip the guard on every ordinary delete.
	DeleteGuardMinNodes int
	// DeleteGuardWindow is the span of primary time the guard remembers.
	DeleteGuardWindow time.Duration
	// OnGuard, if set, is told when the guard pauses the applier (State
	// paused) and when an operator releases it (State released). It must not
	// block.
	OnGuard func(GuardState)
	// Scope is the replicated part of the tree, in source paths (the same scope the
	// source uses). A snapshot-end deletes unmentioned standby nodes only inside it.
	Scope zkpath.Scope
	// Mapping optionally moves source prefixes to other destination prefixes.
	Mapping []zkpath.PathMap
	// MinEpoch is the epoch the active site publishes at as this standby starts
	// following it. Events of an older epoch are the tail of a deposed primary:
	// published before a promotion but never mirrored, they were lost by that
	// promotion (and reported by the old primary's rejoin), so they are skipped,
	// never applied. 0 skips nothing.
	MinEpoch uint64
	// WalkConcurrency bounds reads in flight while the applier indexes the standby.
	WalkConcurrency int
	// BulkSessions is the number of extra standby sessions the index walk and
	// the ACL reads before a batch are spread over; 0 reads on the applier's
	// own session only.
	BulkSessions int
	// IndexFile, if set, is where the applier keeps its index of the standby
	// from a clean stop to the next start, which then skips walking the
	// standby when the standby's tree digest shows nobody changed it
	// meanwhile (see warm.go). "" walks the standby at every start.
	IndexFile string
	// StageReportInterval is how often the applier writes its stage latencies
	// to zkpath.Stages on the standby, for zkdr status; 0 writes none.
	StageReportInterval time.Duration
	Logger              hclog.Logger
}

// DefaultConfig has the batch bounds and guard share that fit a default
// ZooKeeper (jute.maxbuffer 1 MB).
func DefaultConfig() Config {
	return Config{
		SessionTimeout:      10 * time.Second,
		MaxBatchOps:         1000,
		MaxBatchBytes:       900 << 10,
		FetchMax:            512,
		MaxInFlight:         4,
		DeleteGuardShare:    0.25,
		DeleteGuardMinNodes: 100,
		DeleteGuardWindow:   10 * time.Minute,
		WalkConcurrency:     32,
		BulkSessions:        3,
		StageReportInterval: replicator.DefaultStageReportInterval,
	}
}

// withDefaults fills from DefaultConfig the zero fields that have no meaning of
// their own. DeleteGuardMinNodes, BulkSessions and StageReportInterval keep a
// zero: it asks for no minimum, no extra sessions and no reports.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SessionTimeout == 0 {
		c.SessionTimeout = d.SessionTimeout
	}
	if c.MaxBatchOps == 0 {
		c.MaxBatchOps = d.MaxBatchOps
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = d.MaxBatchBytes
	}
	if c.FetchMax == 0 {
		c.FetchMax = d.FetchMax
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.DeleteGuardShare == 0 {
		c.DeleteGuardShare = d.DeleteGuardShare
	}
	if c.DeleteGuardWindow == 0 {
		c.DeleteGuardWindow = d.DeleteGuardWindow
	}
	if c.WalkConcurrency == 0 {
		c.WalkConcurrency = d.WalkConcurrency
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// Validate reports a config the applier cannot run with. Auth never appears in
// an error.
func (c Config) Validate() error {
	if c.Site == "" {
		return fmt.Errorf("%w: applier site is empty", ErrInvalidConfig)
	}
	if c.Stream == "" {
		return fmt.Errorf("%w: applier stream is empty", ErrInvalidConfig)
	}
	if c.OpenReader == nil {
		return fmt.Errorf("%w: applier has no journal reader", ErrInvalidConfig)
	}
	if err := (zkconn.Config{Servers: c.Servers, SessionTimeout: c.SessionTimeout, Auth: c.Auth}).Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.MaxBatchOps < 2 {
		return fmt.Errorf("%w: max batch ops must be at least 2, got %d", ErrInvalidConfig, c.MaxBatchOps)
	}
	if c.MaxBatchBytes < 4096 {
		return fmt.Errorf("%w: max batch bytes must be at least 4096, got %d", ErrInvalidConfig, c.MaxBatchBytes)
	}
	if c.FetchMax < 1 {
		return fmt.Errorf("%w: fetch max must be positive", ErrInvalidConfig)
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("%w: max in flight must be positive", ErrInvalidConfig)
	}
	if c.DeleteGuardShare <= 0 || c.DeleteGuardShare > 1 {
		return fmt.Errorf("%w: delete guard share must be in (0, 1], got %v", ErrInvalidConfig, c.DeleteGuardShare)
	}
	if c.DeleteGuardMinNodes < 0 {
		return fmt.Errorf("%w: delete guard minimum must not be negative", ErrInvalidConfig)
	}
	if c.DeleteGuardWindow < 0 {
		return fmt.Errorf("%w: delete guard window must not be negative", ErrInvalidConfig)
	}
	if c.BulkSessions < 0 {
		return fmt.Errorf("%w: bulk sessions must not be negative", ErrInvalidConfig)
	}
	if c.StageReportInterval < 0 {
		return fmt.Errorf("%w: stage report interval must not be negative", ErrInvalidConfig)
	}
	if err := (zkpath.Mapper{Scope: c.Scope, Maps: c.Mapping}).Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
