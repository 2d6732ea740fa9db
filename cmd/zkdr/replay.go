package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/progress"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

func init() {
	register("replay", "rebuild a tree in a fresh ensemble from the journal, up to a point in time", runReplay)
}

func runReplay(ctx context.Context, args []string) error {
	fs := newFlags("replay")
	path := fs.String("config", "", "site config file (its NATS, scope and credentials are used)")
	target := fs.String("target", "", "HOST:PORT[,HOST:PORT...][/chroot] of the ensemble to build")
	until := fs.String("until", "", "point to stop at: RFC3339 time, zxid:0x..., seq:N (default: the journal's end)")
	stream := fs.String("stream", "", "journal stream to read (default: of this site's stream and its mirror, the one written last)")
	force := fs.Bool("force", false, "replay into a target that holds nodes (in-scope nodes the snapshot lacks are deleted)")
	authEnv := fs.String("auth-env", "ZKDR_ZK_AUTH", "environment variable with the target's digest credentials user:password (default: the config's zookeeper.auth)")
	asJSON := fs.Bool("json", false, "print the summary as JSON (and no progress)")
	verbose := fs.Bool("verbose", false, "log what the replay does to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return &exitError{code: 2, err: errors.New("--target HOST:PORT[/chroot] is required")}
	}
	point, err := journal.ParsePoint(*until)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--until: %w", err)}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	nc, js, err := siteJetStream(cfg.NATS, cfg.NATS.Domain)
	if err != nil {
		return err
	}
	defer nc.Close()
	if *stream == "" {
		if *stream, err = newestStream(ctx, js, cfg); err != nil {
			return err
		}
	}
	servers, root := splitConnect(*target)
	rc := applier.DefaultReplayConfig()
	rc.Stream, rc.Servers, rc.Root, rc.Until, rc.Force, rc.Site = *stream, servers, root, point, *force, cfg.Site
	rc.SessionTimeout = cfg.ZooKeeper.SessionTimeout
	rc.Auth = os.Getenv(*authEnv)
	if rc.Auth == "" {
		rc.Auth = cfg.ZooKeeper.Auth.Reveal()
	}
	rc.Scope = zkpath.Scope{Include: cfg.Replication.Include, Exclude: cfg.Replication.Exclude}
	if cfg.Replication.Ephemeral == configs.EphemeralPersistent {
		rc.Scope.Ephemeral = []zkpath.EphemeralRule{{Prefix: "/", Policy: zkpath.EphemeralPersistent}}
	}
	if cfg.Applier.MaxBatchOps > 0 {
		rc.MaxBatchOps = cfg.Applier.MaxBatchOps
	}
	if cfg.Applier.MaxBatchBytes > 0 {
		rc.MaxBatchBytes = cfg.Applier.MaxBatchBytes
	}
	rc.Logger = hclog.NewNullLogger()
	if *verbose {
		rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "zkdr", Level: hclog.Info, Output: os.Stderr})
	}
	rp, err := applier.NewReplay(rc, js)
	if err != nil {
		return err
	}
	stopProgress := func() {}
	if !*asJSON {
		stopProgress = showReplayProgress(rp)
	}
	rec, err := rp.Run(ctx)
	stopProgress()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	}
	printReplay(rec, *target)
	return nil
}

// newestStream picks, of this site's stream and its mirror of the peer's, the
// one whose last message is newest: the journal of the lineage now active.
func newestStream(ctx context.Context, js jetstream.JetStream, cfg *configs.Config) (string, error) {
	best, bestTime := "", time.Time{}
	var errs []error
	for _, name := range []string{journal.StreamName(cfg.Site), journal.StreamName(cfg.Peer.Name)} {
		in, err := journal.Info(ctx, js, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if in.Messages > 0 && (best == "" || in.LastTime.After(bestTime)) {
			best, bestTime = name, in.LastTime
		}
	}
	if best == "" {
		return "", fmt.Errorf("no journal with messages in domain %s (name one with --stream): %w", cfg.NATS.Domain, errors.Join(errs...))
	}
	return best, nil
}

// showReplayProgress reports the replay's progress on stderr until the
// returned function is called: the snapshot's nodes, then the events after it.
func showReplayProgress(rp *applier.Replay) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		var bar *progress.Reporter
		phase := ""
		var baseEvents uint64
		for {
			select {
			case <-done:
				if bar != nil {
					bar.Finish()
				}
				return
			case <-t.C:
			}
			p := rp.Progress()
			if p.Phase != phase {
				if bar != nil {
					bar.Finish()
					bar = nil
				}
				phase = p.Phase
				switch phase {
				case "snapshot":
					bar = progress.New(os.Stderr, fmt.Sprintf("replay snapshot %d", p.Snapshot.ID), p.Snapshot.Nodes, "nodes")
				case "events":
					baseEvents = p.Events
					bar = progress.New(os.Stderr, "replay events", 0, "events")
				}
			}
			switch phase {
			case "snapshot":
				bar.Set(int64(p.Nodes))
			case "events":
				applied := int64(p.Events - baseEvents)
				// Events per message so far, times the messages left, gives
				// an estimate for the ETA.
				if span := p.AppliedSeq - p.Snapshot.EndSeq; span > 0 && p.LastSeq > p.AppliedSeq {
					bar.SetTotal(applied + applied*int64(p.LastSeq-p.AppliedSeq)/int64(span))
				}
				bar.Set(applied)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func printReplay(rec *applier.ReplayRecord, target string) {
	fmt.Printf("replayed %s into %s\n", rec.Stream, target)
	fmt.Printf("  point       %s", rec.Point)
	if rec.PointAfterEnd {
		fmt.Printf(" (after the journal's end: replayed to its end)")
	}
	fmt.Println()
	fmt.Printf("  snapshot    %d, sequences %d..%d, ended %s", rec.Snapshot.ID, rec.Snapshot.BeginSeq, rec.Snapshot.EndSeq, rec.Snapshot.EndTime.Format(time.RFC3339))
	if rec.Snapshot.Nodes >= 0 {
		fmt.Printf(", %d nodes", rec.Snapshot.Nodes)
	}
	fmt.Println()
	fmt.Printf("  applied     sequences %d..%d, %d events, %d nodes on the target\n", rec.FirstSeq, rec.LastSeq, rec.Events, rec.Nodes)
	fmt.Printf("  state as of zxid %#x, journal time %s\n", rec.LastZxid, rec.LastTime.Format(time.RFC3339Nano))
	if rec.WatermarkZxid != 0 {
		fmt.Printf("  watermark   zxid %#x at %s (every change up to it is in)\n", rec.WatermarkZxid, rec.WatermarkTime.Format(time.RFC3339Nano))
	}
	rate := 0.0
	if rec.Seconds > 0 {
		rate = float64(rec.Nodes) / rec.Seconds
	}
	fmt.Printf("  took        %s (%.0f nodes/s)\n", time.Duration(rec.Seconds*float64(time.Second)).Round(time.Millisecond), rate)
	fmt.Printf("  the target's /zkdr/applied names %q: a point-in-time copy, not a standby\n", rec.Checkpoint)
}
