package replicator

import "errors"

// Sentinel errors of package replicator. Wrap them with %w; test with errors.Is.
// New sentinels are appended at the end of this block.
var (
	// ErrInvalidConfig wraps every SourceConfig.Validate failure.
	ErrInvalidConfig = errors.New("replicator: invalid config")
	// ErrPublish wraps a Publisher error; it is permanent for the source.
	ErrPublish = errors.New("replicator: publish event")
	// ErrRead wraps a ZooKeeper read that failed in a way a retry cannot mend
	// (for example a node the source's identity may not read).
	ErrRead = errors.New("replicator: read znode")
	// ErrConnect means no ZooKeeper session could be established.
	ErrConnect = errors.New("replicator: connect to zookeeper")
	// ErrNoRecursiveWatch means the active ensemble refused a persistent
	// recursive watch (ZooKeeper before 3.6, or a server whose watch manager
	// is WatchManagerOptimized) and the source's Watch mode requires one.
	ErrNoRecursiveWatch = errors.New("replicator: zookeeper refused a persistent recursive watch")
)

// Sentinel errors of the applier.
var (
	// ErrApplierFenced means another applier claimed the standby (zkpath.Owner
	// moved) or the checkpoint moved under the applier: this one stops.
	ErrApplierFenced = errors.New("replicator: applier fenced by another applier")
	// ErrEventEpoch means an event of an epoch older than the one the applier
	// follows arrived: an old lineage is writing; the applier stops.
	ErrEventEpoch = errors.New("replicator: event from an older epoch")
	// ErrJournalGap means the journal no longer holds the next sequence to apply:
	// the standby needs a re-bootstrap from a snapshot.
	ErrJournalGap = errors.New("replicator: journal retention gap, re-bootstrap the standby")
	// ErrPoisonMessage means a journal message could not be decoded; the error
	// carries its sequence (errors.As a *journal.DecodeError). `zkdr journal skip`
	// moves past it.
	ErrPoisonMessage = errors.New("replicator: undecodable journal message")
	// ErrExtendedTypesDisabled means the standby refused a TTL node: set
	// zookeeper.extendedTypesEnabled=true on every standby server.
	ErrExtendedTypesDisabled = errors.New("replicator: standby refuses TTL nodes, set zookeeper.extendedTypesEnabled=true on its servers")
	// ErrNoCheckpoint means the standby has no /zkdr/applied yet.
	ErrNoCheckpoint = errors.New("replicator: no applier checkpoint")
	// ErrBadCheckpoint means /zkdr/applied cannot be used (unreadable, or of
	// another stream).
	ErrBadCheckpoint = errors.New("replicator: unusable applier checkpoint")
	// ErrSkipRefused means SkipMessage was asked to skip a message that is not
	// the next one to apply.
	ErrSkipRefused = errors.New("replicator: refusing to skip")
	// ErrGuardNotPaused means ReleaseGuard found no paused delete guard.
	ErrGuardNotPaused = errors.New("replicator: delete guard is not paused")
	// ErrApply wraps a change the standby refused in a way translation cannot mend.
	ErrApply = errors.New("replicator: apply event")
)
