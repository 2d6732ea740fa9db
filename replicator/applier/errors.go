package applier

import "errors"

// Sentinel errors of package applier. Wrap them with %w; test with errors.Is.
// New sentinels are appended at the end of this block.
var (
	// ErrInvalidConfig wraps every Config.Validate and ReplayConfig.Validate
	// failure.
	ErrInvalidConfig = errors.New("applier: invalid config")
	// ErrFenced means another applier claimed the standby (zkpath.Owner
	// moved) or the checkpoint moved under the applier: this one stops.
	ErrFenced = errors.New("applier: fenced by another applier")
	// ErrEventEpoch means an event of an epoch older than the one the applier
	// follows arrived: an old lineage is writing; the applier stops.
	ErrEventEpoch = errors.New("applier: event from an older epoch")
	// ErrJournalGap means the journal no longer holds the next sequence to apply:
	// the standby needs a re-bootstrap from a snapshot.
	ErrJournalGap = errors.New("applier: journal retention gap, re-bootstrap the standby")
	// ErrPoisonMessage means a journal message could not be decoded; the error
	// carries its sequence (errors.As a *journal.DecodeError). `zkdr journal skip`
	// moves past it.
	ErrPoisonMessage = errors.New("applier: undecodable journal message")
	// ErrExtendedTypesDisabled means the standby refused a TTL node: set
	// zookeeper.extendedTypesEnabled=true on every standby server.
	ErrExtendedTypesDisabled = errors.New("applier: standby refuses TTL nodes, set zookeeper.extendedTypesEnabled=true on its servers")
	// ErrNoCheckpoint means the standby has no /zkdr/applied yet.
	ErrNoCheckpoint = errors.New("applier: no checkpoint")
	// ErrBadCheckpoint means /zkdr/applied cannot be used (unreadable, or of
	// another stream).
	ErrBadCheckpoint = errors.New("applier: unusable checkpoint")
	// ErrSkipRefused means SkipMessage was asked to skip a message that is not
	// the next one to apply.
	ErrSkipRefused = errors.New("applier: refusing to skip")
	// ErrGuardNotPaused means ReleaseGuard found no paused delete guard.
	ErrGuardNotPaused = errors.New("applier: delete guard is not paused")
	// ErrApply wraps a change the standby refused in a way translation cannot mend.
	ErrApply = errors.New("applier: apply event")

	// ErrTargetNotEmpty means the replay target holds nodes and --force was not
	// given.
	ErrTargetNotEmpty = errors.New("applier: replay target is not empty")
	// ErrTargetInUse means the target ensemble's /zkdr/applied belongs to a
	// standby's applier, or to another replay that has not finished.
	ErrTargetInUse = errors.New("applier: replay target is in use")
	// ErrReplay wraps a replay that could not reach its point.
	ErrReplay = errors.New("applier: replay")
)
