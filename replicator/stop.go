package replicator

import "errors"

// StopError is what stopped a component for good, built where that is
// decided: the applier's Run returns one for every error it does not retry
// itself (an undecodable message, another applier took the standby over, an
// event of an older epoch, a standby that refuses TTL nodes, a retention
// gap...), and the source's Run one when the journal refuses its lineage
// (journal.ErrFenced, journal.ErrStaleEpoch). Its caller reads it with
// IsPermanent or errors.As and does not run the component again until an
// operator has acted (skipped the message, fixed the standby, promoted).
type StopError struct {
	// Component is "applier" or "source"; Op what it was doing.
	Component string
	Op        string
	// Path is the znode concerned, "" if none.
	Path string
	// Seq is the journal sequence it stopped at, 0 if none; Zxid the
	// primary's zxid of the message's first event there, 0 if none.
	Seq  uint64
	Zxid int64
	// Permanent is false for an error that running the component again may
	// mend.
	Permanent bool
	Err       error
}

func (e *StopError) Error() string { return e.Err.Error() }
func (e *StopError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is, or wraps, a permanent StopError.
func IsPermanent(err error) bool {
	var stop *StopError
	return errors.As(err, &stop) && stop.Permanent
}
