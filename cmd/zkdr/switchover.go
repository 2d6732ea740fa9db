package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zkdr/zkdr/failover"
)

func init() {
	register("switchover", "planned failover drill with a report (RPO 0)", runSwitchover)
}

func runSwitchover(ctx context.Context, args []string) error {
	fs := newFlags("switchover")
	path := fs.String("config", "", "either site's config file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	dryRun := fs.Bool("dry-run", false, "run the preflight only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	opts := failover.DefaultSwitchoverOptions()
	opts.DryRun = *dryRun
	opts.Logger = newLogger(cfg.Log, false, os.Stderr)
	rep, err := failover.Switchover(ctx, cfg, opts)
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			printSwitchoverReport(os.Stdout, rep)
		}
	}
	if errors.Is(err, failover.ErrPreflight) {
		return &exitError{code: 3, err: err}
	}
	return err
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
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  %-10s %10s  %s\n", s.Name, s.Took, s.Detail)
	}
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
