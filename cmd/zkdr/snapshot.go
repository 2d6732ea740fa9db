package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/source"
)

func init() {
	register("snapshot", "ask the active site's source for a fresh snapshot in the journal", runSnapshot)
}

// runSnapshot writes /zkdr/snapshot-request on whichever site is active (this
// one or the peer) and, with --wait, waits until the journal holds a complete
// snapshot begun after the request: on this site's own stream when it is
// active, else on its mirror of the peer's. Operators use it after fixing a
// divergence anti-entropy reported, before bounding retention, or to seed a
// replay point.
func runSnapshot(ctx context.Context, args []string) error {
	fs := newFlags("snapshot")
	path := fs.String("config", "", "site config file (either site's)")
	reason := fs.String("reason", "requested from the command line", "why, recorded in the request")
	wait := fs.Duration("wait", 5*time.Minute, "wait this long for the snapshot to be complete in the journal; 0 returns at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	own, err := dialSite(ctx, cfg.ZooKeeper, 30*time.Second)
	if err != nil {
		return fmt.Errorf("%s's ensemble: %w", cfg.Site, err)
	}
	defer own.Close()
	rec, _, err := site.ReadRecord(ctx, own)
	if err != nil {
		return fmt.Errorf("%s's site record: %w", cfg.Site, err)
	}
	active, conn := cfg.Site, own
	if rec.Role != site.RoleActive {
		active = cfg.Peer.Name
		peer, err := dialSite(ctx, cfg.Peer.ZooKeeper, 30*time.Second)
		if err != nil {
			return fmt.Errorf("%s (%s is %s): the active site's ensemble: %w", cfg.Peer.Name, cfg.Site, rec.Role, err)
		}
		defer peer.Close()
		prec, _, err := site.ReadRecord(ctx, peer)
		if err != nil {
			return fmt.Errorf("%s's site record: %w", cfg.Peer.Name, err)
		}
		if prec.Role != site.RoleActive {
			return fmt.Errorf("neither site is active (%s %s, %s %s): no source to take a snapshot", cfg.Site, rec.Role, cfg.Peer.Name, prec.Role)
		}
		conn = peer
	}
	asked := time.Now()
	host, _ := os.Hostname()
	if err := source.RequestSnapshot(ctx, conn, cfg.Site+"/"+host, *reason); err != nil {
		return fmt.Errorf("write the request on %s: %w", active, err)
	}
	fmt.Printf("snapshot requested from %s's source\n", active)
	if *wait <= 0 {
		return nil
	}
	nc, js, err := siteJetStream(cfg.NATS, cfg.NATS.Domain)
	if err != nil {
		return err
	}
	defer nc.Close()
	stream := journal.StreamName(active) // the own stream, or its mirror here
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	for {
		snaps, err := journal.ListSnapshots(wctx, js, stream)
		if err == nil {
			for _, s := range snaps {
				// Stored times come from this site's NATS; allow for clock skew
				// between it and this host.
				if s.Complete() && s.BeginTime.After(asked.Add(-2*time.Second)) {
					fmt.Printf("snapshot %d complete in %s: sequences %d..%d, %d nodes\n", s.ID, stream, s.BeginSeq, s.EndSeq, s.Nodes)
					return nil
				}
			}
		}
		select {
		case <-wctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err()
			}
			return fmt.Errorf("no complete snapshot in %s within %s (last error: %v)", stream, *wait, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
