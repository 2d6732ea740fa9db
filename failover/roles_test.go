package failover

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
	"github.com/zkdr/zkdr/replicator/applier"
)

// A role stopped by a fence is not run again (it would fence the other writer
// back); other failures are retried.
func TestIsPermanent(t *testing.T) {
	for _, err := range []error{
		// What Applier.Run returns.
		&replicator.StopError{Component: "applier", Permanent: true, Err: fmt.Errorf("apply: %w", applier.ErrFenced)},
		fmt.Errorf("standby: %w", &replicator.StopError{Component: "applier", Permanent: true, Err: applier.ErrExtendedTypesDisabled}),
		fmt.Errorf("append: %w", journal.ErrFenced),
	} {
		if !isPermanent(err) {
			t.Errorf("%v: retried, want the role to stay stopped", err)
		}
	}
	if isPermanent(errors.New("zk: connection closed")) {
		t.Error("a lost connection is permanent, want a retry")
	}
}

// A runner error stands until the runner has run a while again, and a clear
// that was due for an older error leaves a newer one alone.
func TestRunnerErrorClearsOnlyItself(t *testing.T) {
	d := &Daemon{}
	d.setErr(errors.New("mirror unavailable"))
	gen := d.errGen
	d.clearErrIf(gen)
	if d.lastErr != nil {
		t.Fatalf("error after the runner recovered: %v", d.lastErr)
	}
	d.setErr(errors.New("first"))
	gen = d.errGen
	d.setErr(errors.New("second"))
	d.clearErrIf(gen)
	if d.lastErr == nil || d.lastErr.Error() != "second" {
		t.Fatalf("a stale clear removed the newer error: %v", d.lastErr)
	}
	tm := d.clearErrAfter(time.Millisecond)
	waitFor(t, 30*time.Second, "the timer to clear the error", func() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.lastErr == nil })
	tm.Stop()
}
