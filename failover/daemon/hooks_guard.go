package daemon

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/zkdr/zkdr/replicator/applier"
)

// GuardChange is what guard hooks are told when the delete guard pauses the
// standby's applier and when an operator releases it.
type GuardChange struct {
	Site  string             // ZKDR_SITE: the standby site
	Guard applier.GuardState // ZKDR_GUARD (paused or released) and the figures
}

// Env returns the variables guard hooks get, as "KEY=value".
func (c GuardChange) Env() []string {
	g := c.Guard
	return []string{
		"ZKDR_SITE=" + c.Site,
		"ZKDR_GUARD=" + g.State,
		"ZKDR_GUARD_FIRST_SEQ=" + strconv.FormatUint(g.FirstSeq, 10),
		"ZKDR_GUARD_DELETES=" + strconv.Itoa(g.Deletes),
		"ZKDR_GUARD_SHRINK=" + strconv.Itoa(g.Shrink),
		"ZKDR_GUARD_PEAK=" + strconv.Itoa(g.Peak),
		"ZKDR_GUARD_SINCE=" + g.Since.UTC().Format(time.RFC3339),
	}
}

// FireGuard runs every command for change, each to the end even if an earlier
// one failed; failures are returned together.
func (h *Hooks) FireGuard(ctx context.Context, change GuardChange) error {
	var errs []error
	for _, argv := range h.cfg.Commands {
		if err := h.run(ctx, argv, change.Env(), "site", change.Site, "guard", change.Guard.State); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// startGuardHooks starts the worker that runs applier.guard_hook commands, one
// guard change after the other, and returns the function the applier calls
// (it never blocks).
func (d *Daemon) startGuardHooks(ctx context.Context, wg *sync.WaitGroup) func(applier.GuardState) {
	hooks := d.hooksOf(d.cfg.Applier.GuardHooks)
	if len(hooks) == 0 {
		return nil
	}
	queue := hookQueue(ctx, wg, func(ch GuardChange) {
		for _, h := range hooks {
			if err := h.FireGuard(ctx, ch); err != nil {
				d.log.Error("guard hook failed", "error", err)
			}
		}
	})
	return func(g applier.GuardState) {
		if !queue(GuardChange{Site: d.cfg.Site, Guard: g}) {
			d.log.Warn("guard hooks are behind; dropping a change", "guard", g.State, "first-seq", g.FirstSeq)
		}
	}
}
