package applier

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// Stats is a snapshot of what the applier has done.
type Stats struct {
	Stream        string
	AppliedSeq    uint64 // last journal sequence applied (the checkpoint's)
	Epoch         uint64
	WatermarkZxid int64
	WatermarkTime time.Time // primary time of the last heartbeat applied
	EventsApplied uint64    // events applied by this process
	Batches       uint64    // Multis that carried a checkpoint
	Redone        uint64    // batches planned again after the standby refused them
	OpByOp        uint64    // messages applied op by op as a last resort
	OutOfOrder    uint64    // pipelined Multis that overtook the one before them and were sent again
	StaleSkipped  uint64    // events skipped for an epoch below Config.MinEpoch
	Replicated    int       // replicated nodes on the standby
	// Start says how the last pass came to know the standby: "warm" (the
	// index saved at the last clean stop) or "cold: " and why it walked the
	// standby.
	Start       string
	Guard       *GuardState
	GuardPauses uint64 // times the delete guard paused this process
	// Resync is set while the standby resyncs after a retention gap; State
	// then says "resyncing after retention gap at seq N".
	Resync            *ResyncState
	ResyncSkipped     uint64    // messages skipped while waiting for the resync snapshot
	SnapshotRequested time.Time // when this process last asked the active site for a snapshot
	State             string    // "applying" or the resync state
	LastError         string
	// Stages holds the applier's stages (AppendedDelivered,
	// DeliveredApplied), cumulative since this Applier was made.
	Stages replicator.StageLatency
}

// Applier writes one journal stream into the standby ensemble. See doc.go.
type Applier struct {
	cfg Config
	log hclog.Logger
	m   zkpath.Mapper

	mu           sync.Mutex // guards stats and requestedFor
	stats        Stats
	requestedFor uint64                      // the gap a snapshot was asked for by this process
	bo           *backoff.ExponentialBackOff // Run's retry; reset after progress

	// Stage timing (see stages.go), observed by the run's loop.
	appendedDelivered, deliveredApplied journal.Histogram
}

// New validates cfg; it starts nothing.
func New(cfg Config) (*Applier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Applier{
		cfg:   cfg,
		log:   cfg.Logger.Named("applier").With("stream", cfg.Stream),
		m:     zkpath.Mapper{Scope: cfg.Scope, Maps: cfg.Mapping},
		stats: Stats{Stream: cfg.Stream},
	}, nil
}

// Stats returns a copy of the current figures.
func (a *Applier) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	if s.Guard != nil {
		g := *s.Guard
		s.Guard = &g
	}
	if s.Resync != nil {
		r := *s.Resync
		s.Resync = &r
	}
	s.Stages = a.stages()
	return s
}

// stages reads the applier's stage histograms.
func (a *Applier) stages() replicator.StageLatency {
	return replicator.StageLatency{AppendedDelivered: a.appendedDelivered.Snapshot(), DeliveredApplied: a.deliveredApplied.Snapshot()}
}

func (a *Applier) setGuard(g *GuardState) {
	a.mu.Lock()
	a.stats.Guard = g
	a.mu.Unlock()
}

// Run applies until ctx ends (nil) or a permanent error: an undecodable message
// (ErrPoisonMessage), another applier took over (ErrFenced), an older
// epoch (ErrEventEpoch), a standby that refuses TTL nodes
// (ErrExtendedTypesDisabled). Lost connections and sessions are retried with
// backoff, each time from the checkpoint. A retention gap is not an end: the
// applier records it in the checkpoint and resyncs from a fresh snapshot (see
// enterResync).
func (a *Applier) Run(ctx context.Context) error {
	a.bo = backoff.NewExponentialBackOff()
	a.bo.InitialInterval = 200 * time.Millisecond
	a.bo.MaxInterval = 15 * time.Second
	a.bo.MaxElapsedTime = 0
	var lastLog time.Time
	op := func() error {
		for {
			// A gap just recorded starts the pass again at once, reading for the snapshot.
			if err := a.runOnce(ctx); !errors.Is(err, errResync) {
				return err
			}
		}
	}
	err := backoff.RetryNotify(op, backoff.WithContext(a.bo, ctx),
		func(err error, wait time.Duration) {
			a.mu.Lock()
			a.stats.LastError = err.Error()
			a.mu.Unlock()
			if time.Since(lastLog) > 10*time.Second {
				lastLog = time.Now()
				a.log.Warn("applier failed, starting again from the checkpoint", "error", err, "wait", wait)
			}
		})
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		return nil
	}
	a.mu.Lock()
	a.stats.LastError = err.Error()
	next := a.stats.AppliedSeq + 1
	a.mu.Unlock()
	// Everything else was retried above: this needs an operator.
	return asStop(err, next)
}
