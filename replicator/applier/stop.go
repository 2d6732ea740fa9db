package applier

import (
	"errors"

	"github.com/cenkalti/backoff/v4"

	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// stop is the error of a decision that the applier cannot go on until an
// operator acts: a permanent replicator.StopError saying what it was doing,
// the znode and the journal message concerned (msg may be nil), wrapped so
// that the applier's retries end at once.
func stop(op, path string, msg *journal.Message, err error) error {
	se := &replicator.StopError{Component: "applier", Op: op, Path: path, Permanent: true, Err: err}
	if msg != nil {
		se.Seq = msg.Seq
		if len(msg.Events) > 0 {
			se.Zxid = msg.Events[0].Zxid
		}
	}
	return backoff.Permanent(se)
}

// stopAt is stop for a decision about journal sequence seq, whose message is
// not at hand.
func stopAt(op, path string, seq uint64, err error) error {
	return stop(op, path, &journal.Message{Seq: seq}, err)
}

// asStop is what Run returns for err, which its retries did not mend: the
// StopError built where the applier decided to stop, with next (the sequence
// it would apply next) where that decision named none; any other error, which
// the retries gave up on, becomes one for next.
func asStop(err error, next uint64) error {
	var se *replicator.StopError
	if errors.As(err, &se) {
		if se.Seq == 0 {
			se.Seq = next
		}
		return err
	}
	return &replicator.StopError{Component: "applier", Op: "apply", Seq: next, Permanent: true, Err: err}
}
