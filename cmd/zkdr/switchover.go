package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/failover/daemon"
)

func init() {
	register("switchover", "planned failover drill with a report (RPO 0)", runSwitchover)
}

func runSwitchover(ctx context.Context, args []string) error {
	a := newFailoverArgs("switchover", "either site's config file")
	dryRun := a.fs.Bool("dry-run", false, "run the preflight only")
	cfg, logger, err := a.parse(args)
	if err != nil {
		return err
	}
	dp := newDrainProgress(os.Stderr)
	opts := failover.DefaultSwitchoverOptions()
	opts.DryRun, opts.Logger, opts.Progress = *dryRun, logger, dp.update
	rep, err := failover.Switchover(ctx, daemon.SwitchoverConfig(cfg), opts)
	dp.finish()
	if rep != nil {
		a.print(rep, true, func(w io.Writer) { printSwitchoverReport(w, rep) })
	}
	return refused(err, failover.ErrPreflight)
}

func printSwitchoverReport(w io.Writer, r *failover.SwitchoverReport) {
	if r.From == "" {
		return
	}
	if r.DryRun {
		fmt.Fprintf(w, "preflight passed: %s (epoch %d) can switch over to %s (epoch %d); lag %s\n", r.From, r.PreviousEpoch, r.To, r.Epoch, r.Lag)
		return
	}
	fmt.Fprintf(w, "switchover %s -> %s, epoch %d -> %d\n", r.From, r.To, r.PreviousEpoch, r.Epoch)
	printSteps(w, r.Steps, 10)
	fmt.Fprintf(w, "write-unavailable window: %s (fence to promotion; clients add their reconnect)\n", r.WriteUnavailable)
	if r.FlushedZxid != 0 {
		fmt.Fprintf(w, "RPO: %s (%s applied heartbeat %#x >= fence %#x before taking writes)\n", r.RPO, r.To, r.FlushedZxid, r.FenceZxid)
	}
	if r.Compared > 0 || r.Verified {
		fmt.Fprintf(w, "verification: equal=%t, %d nodes compared, %d writes in flight\n", r.Verified, r.Compared, r.InFlight)
		for _, d := range r.Differences {
			fmt.Fprintf(w, "  differs: %s\n", d)
		}
	}
	fmt.Fprintf(w, "took %s\n", r.Took)
}
