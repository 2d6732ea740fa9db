package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/failover/daemon"
)

func init() {
	register("promote", "unplanned promotion of this site (the active site is gone)", runPromote)
}

func runPromote(ctx context.Context, args []string) error {
	a := newFailoverArgs("promote", "this site's config file (the standby's)")
	force := a.fs.Bool("force", false, "promote even though the peer is reachable and active (fences it first)")
	drain := a.fs.Duration("drain-timeout", 10*time.Minute, "how long to wait for the local mirror to be applied to its end")
	cfg, logger, err := a.parse(args)
	if err != nil {
		return err
	}
	dp := newDrainProgress(os.Stderr)
	opts := failover.DefaultPromoteOptions()
	opts.Force, opts.DrainTimeout, opts.Logger, opts.Progress = *force, *drain, logger, dp.update
	rep, err := failover.Promote(ctx, daemon.PromoteConfig(cfg), opts)
	dp.finish()
	if rep != nil {
		a.print(rep, err == nil, func(w io.Writer) { printPromoteReport(w, cfg, rep) })
	}
	return refused(err, failover.ErrPeerActive, failover.ErrAlreadyActive)
}

func printPromoteReport(w io.Writer, cfg *configs.Config, r *failover.PromoteReport) {
	fmt.Fprintf(w, "%s is active at epoch %d (was %s at epoch %d)\n", r.Site, r.Epoch, r.PreviousRole, r.PreviousEpoch)
	switch {
	case !r.PeerReachable:
		fmt.Fprintf(w, "peer %s: unreachable; it fences itself and rejoins as standby when it returns\n", r.Peer)
	case r.PeerFenced:
		fmt.Fprintf(w, "peer %s: was %s, now fenced at epoch %d (last heartbeat applied: %t)\n", r.Peer, r.PeerRole, r.Epoch, r.PeerFlushed)
	default:
		fmt.Fprintf(w, "peer %s: %s\n", r.Peer, r.PeerRole)
	}
	fmt.Fprintf(w, "applied %s to sequence %d of %d\n", journalName(cfg.Peer.Name), r.AppliedSeq, r.MirrorLastSeq)
	if r.LastAppliedTime.IsZero() {
		fmt.Fprintf(w, "last applied primary zxid: none (no heartbeat was ever applied)\n")
	} else {
		fmt.Fprintf(w, "last applied primary zxid: %#x at %s\n", r.LastAppliedZxid, r.LastAppliedTime.UTC().Format(time.RFC3339Nano))
		fmt.Fprintf(w, "every write %s acknowledged before that time is here\n", r.Peer)
	}
	if r.PeerFlushed {
		fmt.Fprintf(w, "estimated data-loss window: 0 (the fenced peer's last heartbeat was applied)\n")
	} else {
		fmt.Fprintf(w, "estimated data-loss window: %s after the last applied time (last journal message from %s at %s)\n",
			r.DataLossWindow, r.Peer, r.LastJournalTime.UTC().Format(time.RFC3339Nano))
	}
	printSteps(w, r.Steps, 12)
	fmt.Fprintf(w, "took %s; the source publishes at epoch %d: %t\n", r.Took, r.Epoch, r.SourceStarted)
}

// printSteps lists a report's timed steps, names padded to width.
func printSteps(w io.Writer, steps []failover.Step, width int) {
	for _, s := range steps {
		fmt.Fprintf(w, "  %-*s %10s  %s\n", width, s.Name, s.Took, s.Detail)
	}
}

func journalName(site string) string { return "ZKDR_" + site }
