package workload

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// laneDepth is how many drawn operations may wait for a busy lane before the
// draw waits for it too (and the rate falls behind Config.Rate).
const laneDepth = 256

// Run draws operations from the mix at Config.Rate per second and carries
// them out, each application on its own lane, until ctx ends or Config.Ops
// operations are done; with Ops it returns once every one of them is done.
// It returns nil then, and an error only when it cannot start: before
// Populate, after Wipe or Close, or while another Run runs. Operations that
// fail are counted in Stats and logged, and the run goes on.
func (w *Workload) Run(ctx context.Context) error {
	w.mu.Lock()
	switch {
	case w.closed:
		w.mu.Unlock()
		return ErrClosed
	case w.running:
		w.mu.Unlock()
		return ErrRunning
	case !w.populated:
		w.mu.Unlock()
		return ErrNotPopulated
	}
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}()

	ops0 := w.Stats().Ops
	var wg sync.WaitGroup
	lanes := map[string]chan *Op{}
	for _, name := range w.lanes() {
		ch := make(chan *Op, laneDepth)
		lanes[name] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for op := range ch {
				if ctx.Err() != nil {
					continue // drawn, never started
				}
				w.execute(ctx, op)
			}
		}()
	}
	defer func() {
		for _, ch := range lanes {
			close(ch)
		}
		wg.Wait()
	}()

	var lim *rate.Limiter
	if w.cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(w.cfg.Rate), max(1, int(w.cfg.Rate/50)))
	}
	w.log.Info("running", "rate", w.cfg.Rate, "ops", w.cfg.Ops, "seed", w.cfg.Seed)
	n := int64(0)
	defer func() {
		// Operations drawn but still waiting in a lane when ctx ended are never
		// started: more than a few means the lanes fell behind the rate.
		w.log.Info("run stopped", "drawn", n, "not-started", n-(w.Stats().Ops-ops0))
	}()
	for ; w.cfg.Ops == 0 || n < w.cfg.Ops; n++ {
		if lim != nil {
			if lim.Wait(ctx) != nil {
				return nil
			}
		} else if ctx.Err() != nil {
			return nil
		}
		w.mu.Lock()
		op := w.draw()
		w.mu.Unlock()
		select {
		case lanes[lane(op.Kind, op.a)] <- op:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}
