package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
	"github.com/zkdr/zkdr/replicator/applier"
	"github.com/zkdr/zkdr/replicator/source"
)

// fencedAtOpen is a journal that refuses the source's lineage when opened.
type fencedAtOpen struct{}

func (fencedAtOpen) Open(context.Context) error {
	return fmt.Errorf("%w: stream ZKDR_east sequence 9 has epoch 3", journal.ErrStaleEpoch)
}
func (fencedAtOpen) Append(context.Context, journal.Event) error { return nil }
func (fencedAtOpen) Flush(context.Context) error                 { return nil }

// A role stopped for good (an applier fenced by another, a source whose
// journal refuses its lineage) is not run again, it would fence the other
// writer back; other failures are retried.
func TestPermanentStopIsNotRetried(t *testing.T) {
	scfg := source.DefaultConfig()
	scfg.Site, scfg.Epoch, scfg.Servers = "east", 2, []string{"127.0.0.1:1"}
	src, err := source.New(scfg, fencedAtOpen{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		run       func(context.Context) error
		permanent bool
	}{
		{"fenced source", src.Run, true},
		{"fenced applier", func(context.Context) error {
			return &replicator.StopError{Component: "applier", Permanent: true, Err: fmt.Errorf("apply: %w", applier.ErrFenced)}
		}, true},
		{"lost connection", func(context.Context) error { return errors.New("zk: connection closed") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Daemon{log: hclog.NewNullLogger()}
			var runs atomic.Int32
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- d.keepRunning(ctx, site.RoleActive, func(ctx context.Context) error { runs.Add(1); return tc.run(ctx) })
			}()
			if tc.permanent {
				// The runner is not started again, and the daemon stays up
				// with the error reported until its context ends.
				eventually.True(t, 30*time.Second, "the permanent stop reported", func() bool {
					d.mu.Lock()
					defer d.mu.Unlock()
					return replicator.IsPermanent(d.lastErr)
				})
				// Five times the first retry's wait: a retry would have come.
				time.Sleep(time.Second)
				if n := runs.Load(); n != 1 {
					t.Errorf("runner ran %d times, want once", n)
				}
				select {
				case err := <-done:
					t.Fatalf("keepRunning returned %v before its context ended", err)
				default:
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("keepRunning returned %v after ctx ended, want nil", err)
				}
				return
			}
			eventually.True(t, 30*time.Second, "a retry", func() bool { return runs.Load() >= 2 })
			if d.mu.Lock(); d.lastErr == nil {
				t.Error("the runner's error is not reported")
			}
			d.mu.Unlock()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("keepRunning returned %v after ctx ended, want nil", err)
			}
		})
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
	eventually.True(t, 30*time.Second, "the timer to clear the error", func() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.lastErr == nil })
	tm.Stop()
}
