package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
	"github.com/zkdr/zkdr/replicator/applier"
)

func init() {
	register("status", "both sites: role, epoch, journal, applied sequence, watermark, lag, guard, lag by stage", runStatus)
}

// siteStatus is what status shows of one site. Secrets never enter it.
type siteStatus struct {
	Site       string              `json:"site"`
	Reachable  bool                `json:"reachable"`
	Role       string              `json:"role,omitempty"`
	Epoch      uint64              `json:"epoch"`
	Since      time.Time           `json:"since,omitzero"`
	Journal    *streamStatus       `json:"journal,omitempty"` // this site's own stream
	Mirror     *streamStatus       `json:"mirror,omitempty"`  // its mirror of the peer's stream
	AppliedSeq uint64              `json:"applied_seq,omitempty"`
	Watermark  *watermark          `json:"watermark,omitempty"`
	Guard      *applier.GuardState `json:"delete_guard,omitempty"`
	Resync     string              `json:"resync,omitempty"`
	// AntiEntropy is the standby daemon's last comparison with the active site.
	AntiEntropy *daemon.AntiEntropyStatus `json:"anti_entropy,omitempty"`
	// Stages is the site's last stage report (its source's or its applier's),
	// when it is current and from the component the site's role runs.
	Stages *replicator.StageReport `json:"stages,omitempty"`
	Errors []string                `json:"errors,omitempty"`
}

type streamStatus struct {
	Stream    string `json:"stream"`
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	Epoch     uint64 `json:"epoch"`
	MirrorLag uint64 `json:"mirror_lag,omitempty"`
}

type watermark struct {
	Zxid   int64     `json:"zxid"`
	Time   time.Time `json:"time"`
	LagSec float64   `json:"lag_seconds"` // now - time: the RPO right now
}

func runStatus(ctx context.Context, args []string) error {
	fs := newFlags("status")
	path := fs.String("config", "", "site config file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	sites := []siteStatus{
		readSite(ctx, cfg, cfg.Site, cfg.ZooKeeper, cfg.NATS.Domain, cfg.Peer.Name),
		readSite(ctx, cfg, cfg.Peer.Name, cfg.Peer.ZooKeeper, cfg.Peer.NATS.Domain, cfg.Site),
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sites)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tROLE\tEPOCH\tJOURNAL\tMIRROR\tAPPLIED\tWATERMARK\tLAG\tCOMMIT-SEEN\tREAD-APPENDED\tAPPENDED-DELIVERED\tDELIVERED-APPLIED\tGUARD")
	for _, s := range sites {
		role := s.Role
		if !s.Reachable {
			role = "unreachable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Site, role, s.Epoch,
			streamCell(s.Journal), streamCell(s.Mirror), seqCell(s.AppliedSeq), wmCell(s.Watermark), lagCell(s.Watermark),
			stageCell(s.Stages, replicator.StageCommitSeen), stageCell(s.Stages, replicator.StageReadAppended),
			stageCell(s.Stages, replicator.StageAppendedDelivered), stageCell(s.Stages, replicator.StageDeliveredApplied),
			guardCell(s.Guard))
	}
	tw.Flush()
	if w := stageWindow(sites); w > 0 {
		fmt.Printf("stages: p50/p99 over the last %s\n", w.Round(time.Second))
	}
	for _, s := range sites {
		for _, line := range antiEntropyLines(s.AntiEntropy, time.Now()) {
			fmt.Printf("%s: anti-entropy: %s\n", s.Site, line)
		}
	}
	for _, s := range sites {
		for _, e := range s.Errors {
			fmt.Printf("%s: %s\n", s.Site, e)
		}
	}
	return nil
}

// readSite gathers one site's state from its ensemble and, through this site's
// NATS, its JetStream domain.
func readSite(ctx context.Context, cfg *configs.Config, name string, z configs.ZooKeeper, domain, other string) siteStatus {
	st := siteStatus{Site: name}
	conn, err := dialSite(ctx, z, 10*time.Second)
	if err != nil {
		st.Errors = append(st.Errors, "zookeeper: "+err.Error())
	} else {
		defer conn.Close()
		st.Reachable = true
		if rec, _, err := site.ReadRecord(ctx, conn); err == nil {
			st.Role, st.Epoch, st.Since = string(rec.Role), rec.Epoch, rec.Since
		} else if !errors.Is(err, site.ErrNoRecord) {
			st.Errors = append(st.Errors, "site record: "+err.Error())
		}
		if cp, err := applier.ReadCheckpoint(ctx, conn); err == nil {
			st.AppliedSeq = cp.Seq
			if cp.Resync != nil {
				st.Resync = cp.Resync.String()
				st.Errors = append(st.Errors, cp.Resync.String()+": waiting for a fresh snapshot of the active site")
			}
			if cp.WatermarkTime != 0 {
				t := time.Unix(0, cp.WatermarkTime)
				st.Watermark = &watermark{Zxid: cp.WatermarkZxid, Time: t, LagSec: time.Since(t).Seconds()}
			}
		}
		if g, ok, err := applier.ReadGuard(ctx, conn); err == nil && ok && g.State == applier.GuardPaused {
			st.Guard = &g
		}
		if ae, ok, err := daemon.ReadAntiEntropy(ctx, conn); err == nil && ok {
			st.AntiEntropy = &ae
		}
		if r, ok, err := replicator.ReadStageReport(ctx, conn); err == nil && ok && stagesFit(r, st.Role, time.Now()) {
			st.Stages = &r
		}
	}
	nc, js, err := siteJetStream(cfg.NATS, domain)
	if err != nil {
		st.Errors = append(st.Errors, "nats: "+err.Error())
		return st
	}
	defer nc.Close()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if in, err := journal.Info(sctx, js, journal.StreamName(name)); err == nil && in.Mirror == nil {
		st.Journal = &streamStatus{Stream: in.Stream, FirstSeq: in.FirstSeq, LastSeq: in.LastSeq, Epoch: in.NewestEpoch}
	}
	if in, err := journal.Info(sctx, js, journal.StreamName(other)); err == nil && in.Mirror != nil {
		st.Mirror = &streamStatus{Stream: in.Stream, FirstSeq: in.FirstSeq, LastSeq: in.LastSeq, Epoch: in.NewestEpoch, MirrorLag: in.Mirror.Lag}
	}
	return st
}

func streamCell(s *streamStatus) string {
	if s == nil {
		return "-"
	}
	c := fmt.Sprintf("%s %d..%d", s.Stream, s.FirstSeq, s.LastSeq)
	if s.MirrorLag > 0 {
		c += fmt.Sprintf(" (lag %d)", s.MirrorLag)
	}
	return c
}

func seqCell(n uint64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func wmCell(w *watermark) string {
	if w == nil {
		return "-"
	}
	return fmt.Sprintf("0x%x", w.Zxid)
}

func lagCell(w *watermark) string {
	if w == nil {
		return "-"
	}
	return (time.Duration(w.LagSec * float64(time.Second))).Round(10 * time.Millisecond).String()
}

// stagesFit reports whether a site's stage report describes what the site
// runs now: current, and from the source of an active site or the applier of
// a standby (a report left by the other role before a switchover is not).
func stagesFit(r replicator.StageReport, role string, now time.Time) bool {
	want := map[string]string{string(site.RoleActive): "source", string(site.RoleStandby): "applier"}[role]
	return r.Role == want && r.Current(now)
}

// stageCell shows one stage's p50/p99 over the report's window; "-" where
// the site does not run that stage, or nothing went through it.
func stageCell(r *replicator.StageReport, stage string) string {
	if r == nil {
		return "-"
	}
	s, ok := r.Stage(stage)
	if !ok || s.Count == 0 {
		return "-"
	}
	return shortDuration(s.P50) + "/" + shortDuration(s.P99)
}

// shortDuration prints seconds with two or three significant digits.
func shortDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// stageWindow is the longest window of the stage reports shown.
func stageWindow(sites []siteStatus) time.Duration {
	var w time.Duration
	for _, s := range sites {
		if s.Stages != nil {
			w = max(w, time.Duration(s.Stages.WindowSeconds*float64(time.Second)))
		}
	}
	return w
}

func guardCell(g *applier.GuardState) string {
	if g == nil {
		return "ok"
	}
	// While paused the watermark stands still, so LAG beside this says how
	// far the standby now trails.
	return fmt.Sprintf("PAUSED (%d deletes of %d, %d below the window's peak of %d; since %s, %s ago)",
		g.Deletes, g.Replicated, g.Shrink, g.Peak, g.Since.Local().Format(time.TimeOnly), time.Since(g.Since).Round(time.Second))
}

// antiEntropyLines describes the last anti-entropy pass: when, how much it
// compared, what it found, and a failure newer than it.
func antiEntropyLines(ae *daemon.AntiEntropyStatus, now time.Time) []string {
	if ae == nil {
		return nil
	}
	var out []string
	ago := func(t time.Time) string { return now.Sub(t).Round(time.Second).String() + " ago" }
	if l := ae.Last; l != nil {
		line := fmt.Sprintf("last pass %s (%s, took %s): %d nodes compared, %d divergent",
			l.Finished.Local().Format(time.DateTime), ago(l.Finished), l.Duration().Round(10*time.Millisecond), l.NodesCompared, l.Divergent)
		if l.Divergent > 0 {
			line += ": " + l.PathList()
		}
		out = append(out, line)
	} else {
		out = append(out, "no complete pass yet")
	}
	if ae.LastError != "" && (ae.Last == nil || ae.LastErrorAt.After(ae.Last.Finished)) {
		out = append(out, fmt.Sprintf("last pass failed %s: %s", ago(ae.LastErrorAt), ae.LastError))
	}
	return out
}
