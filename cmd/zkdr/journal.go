package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

func init() {
	register("journal", "inspect the journal: info | inspect | skip", runJournal)
}

func runJournal(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &exitError{code: 2, err: errors.New("usage: zkdr journal info|inspect|skip --config FILE [flags]")}
	}
	switch args[0] {
	case "info":
		return journalInfo(ctx, args[1:])
	case "inspect":
		return journalInspect(ctx, args[1:])
	case "skip":
		return journalSkip(ctx, args[1:])
	}
	return &exitError{code: 2, err: fmt.Errorf("unknown journal command %q (want info, inspect or skip)", args[0])}
}

// journalInfo shows the site's own stream and its local mirror of the peer's.
func journalInfo(ctx context.Context, args []string) error {
	fs := newFlags("journal info")
	path := fs.String("config", "", "site config file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
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
	var infos []*journal.JournalInfo
	for _, stream := range []string{journal.StreamName(cfg.Site), journal.StreamName(cfg.Peer.Name)} {
		info, err := journal.Info(ctx, js, stream)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s in domain %s: %v\n", stream, cfg.NATS.Domain, err)
			continue
		}
		// The peer's snapshot interval is not in this config; sites are
		// configured alike, so this site's stands in for it.
		if err := journal.DescribeSnapshots(ctx, js, info, cfg.Source.SnapshotInterval, time.Now()); err != nil {
			fmt.Fprintf(os.Stderr, "%s snapshots: %v\n", stream, err)
		}
		infos = append(infos, info)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	for _, in := range infos {
		kind := "journal of this site"
		if in.Mirror != nil {
			kind = fmt.Sprintf("mirror of %s (%s)", in.Mirror.Origin, in.Mirror.APIPrefix)
		}
		fmt.Printf("%s  %s, domain %s\n", in.Stream, kind, cfg.NATS.Domain)
		fmt.Printf("  sequences   %d..%d (%d messages, %d bytes)\n", in.FirstSeq, in.LastSeq, in.Messages, in.Bytes)
		if !in.LastTime.IsZero() {
			fmt.Printf("  time        %s .. %s\n", in.FirstTime.Format(time.RFC3339), in.LastTime.Format(time.RFC3339))
		}
		fmt.Printf("  retention   max-age %s, max-bytes %d, max-msgs %d, replicas %d\n", in.MaxAge, in.MaxBytes, in.MaxMsgs, in.Replicas)
		fmt.Printf("  last writer %s (site %s, epoch %d)\n", in.Writer, in.Site, in.NewestEpoch)
		if m := in.Mirror; m != nil {
			fmt.Printf("  mirror lag  %d messages, last heard %s ago", m.Lag, m.Active.Round(time.Millisecond))
			if m.Error != "" {
				fmt.Printf(", error: %s", m.Error)
			}
			fmt.Println()
		}
		printSnapshots(in)
	}
	return nil
}

// shownSnapshots bounds the snapshots journal info lists one per line.
const shownSnapshots = 10

func printSnapshots(in *journal.JournalInfo) {
	complete := 0
	for _, s := range in.Snapshots {
		if s.Complete() {
			complete++
		}
	}
	fmt.Printf("  snapshots   %d held, %d complete\n", len(in.Snapshots), complete)
	list := in.Snapshots
	if len(list) > shownSnapshots {
		fmt.Printf("              (the oldest %d not shown)\n", len(list)-shownSnapshots)
		list = list[len(list)-shownSnapshots:]
	}
	for _, s := range list {
		switch {
		case s.BeginSeq == 0:
			fmt.Printf("    %d  begin dropped by retention, ended at seq %d (%s): unusable\n", s.ID, s.EndSeq, s.EndTime.Format(time.RFC3339))
		case s.EndSeq == 0:
			fmt.Printf("    %d  seq %d.. begun %s, not ended (under way, or its writer stopped)\n", s.ID, s.BeginSeq, s.BeginTime.Format(time.RFC3339))
		default:
			fmt.Printf("    %d  seq %d..%d, %s .. %s, zxid %#x", s.ID, s.BeginSeq, s.EndSeq, s.BeginTime.Format(time.RFC3339), s.EndTime.Format(time.RFC3339), s.EndZxid)
			if s.Nodes >= 0 {
				fmt.Printf(", %d nodes", s.Nodes)
			}
			fmt.Println()
		}
	}
	if r := in.Replayable; r != nil {
		fmt.Printf("  replayable  seq %d..%d, %s .. %s (from snapshot %d)\n", r.FromSeq, r.ToSeq, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Snapshot)
	} else {
		fmt.Printf("  replayable  nothing: no complete snapshot is held\n")
	}
	for _, w := range in.Warnings {
		fmt.Printf("  WARNING     %s\n", w)
	}
}

// journalInspect prints events readably from a sequence or a time.
func journalInspect(ctx context.Context, args []string) error {
	fs := newFlags("journal inspect")
	path := fs.String("config", "", "site config file")
	stream := fs.String("stream", "", "stream to read (default: this site's journal)")
	seq := fs.Uint64("seq", 0, "first sequence to print")
	since := fs.String("since", "", "first time to print (RFC3339)")
	limit := fs.Int("n", 100, "how many messages to print (0 = all there are now)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	var from time.Time
	if *since != "" {
		if from, err = time.Parse(time.RFC3339, *since); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--since: %w", err)}
		}
	}
	if *stream == "" {
		*stream = journal.StreamName(cfg.Site)
	}
	nc, js, err := siteJetStream(cfg.NATS, cfg.NATS.Domain)
	if err != nil {
		return err
	}
	defer nc.Close()
	info, err := journal.Info(ctx, js, *stream)
	if err != nil {
		return err
	}
	r, err := journal.Inspect(js, *stream, *seq, from, hclog.NewNullLogger())
	if err != nil {
		return err
	}
	defer r.Close()
	printed := 0
	for *limit == 0 || printed < *limit {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		msgs, err := r.Fetch(fctx, 256)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil // nothing more right now
		}
		if err != nil {
			return err
		}
		for _, m := range msgs {
			for _, ev := range m.Events {
				fmt.Println(journal.Format(m.Seq, ev))
			}
			printed++
			if m.Seq >= info.LastSeq || (*limit != 0 && printed >= *limit) {
				return nil
			}
		}
	}
	return nil
}

// journalSkip moves the standby's applier past one message it cannot apply and
// records that it did.
func journalSkip(ctx context.Context, args []string) error {
	fs := newFlags("journal skip")
	path := fs.String("config", "", "site config file (the standby's)")
	seq := fs.Uint64("seq", 0, "stream sequence of the message to skip")
	reason := fs.String("reason", "skipped by operator", "why, recorded in the checkpoint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if *seq == 0 {
		return &exitError{code: 2, err: errors.New("--seq N is required")}
	}
	conn, err := dialSite(ctx, cfg.ZooKeeper, 30*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream := journal.StreamName(cfg.Peer.Name)
	if err := applier.SkipMessage(ctx, conn, stream, *seq, *reason); err != nil {
		return err
	}
	fmt.Printf("skipped %s sequence %s; the applier resumes after it\n", stream, strconv.FormatUint(*seq, 10))
	return nil
}
