package journal

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test with errors.Is: the errors returned by this package wrap
// them with the details (stream, sequence, writer, epoch).
var (
	// ErrFenced means another writer appended to the stream since this appender's
	// last acknowledged message: this appender no longer owns the stream's tail.
	ErrFenced = errors.New("journal: fenced by another writer")
	// ErrStaleEpoch means the stream already holds a message of a newer epoch than
	// the appender's own: a newer promotion took over this lineage.
	ErrStaleEpoch = errors.New("journal: stale epoch")
	// ErrRetentionGap means the journal no longer holds the sequence a reader must
	// continue from: the messages were dropped by retention limits.
	ErrRetentionGap = errors.New("journal: retention gap")
	// ErrUnknownVersion means a message was written with a schema version this
	// build cannot read.
	ErrUnknownVersion = errors.New("journal: unknown schema version")
	// ErrCorrupt means a message is truncated, fails its checksum or does not
	// follow the wire format.
	ErrCorrupt = errors.New("journal: corrupt message")
	// ErrStreamConfig means a stream exists with settings that differ from the
	// ones asked for; it is reported, never changed behind the operator's back.
	ErrStreamConfig = errors.New("journal: incompatible stream settings")
	// ErrNoSnapshot means no complete snapshot the stream still holds ends at
	// or before the point a replay asked for.
	ErrNoSnapshot = errors.New("journal: no complete snapshot")
	// ErrClosed is returned by an appender or reader used after Close.
	ErrClosed = errors.New("journal: closed")
)

// DecodeError is a message that could not be decoded, with its place in the
// stream. Err wraps ErrUnknownVersion or ErrCorrupt.
type DecodeError struct {
	Stream string
	Seq    uint64
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode %s sequence %d: %v", e.Stream, e.Seq, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }
