package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// The stages of replication, in the order a change goes through them (see
// doc.go, "Stages"). The names are the values of the stage label of
// zkdr_replication_stage_seconds and of StageSummary.Stage.
const (
	// StageCommitSeen: the primary's commit of a create or a data change (the
	// node's mtime, the leader's clock) to the arrival of the reply to the
	// source's read of the node (the source host's clock).
	StageCommitSeen = "commit_seen"
	// StageReadAppended: that arrival to the journal's acknowledgement of the
	// message holding the event (the source host's clock).
	StageReadAppended = "read_appended"
	// StageAppendedDelivered: the active site's JetStream storing the message
	// (its server's clock, which the mirror keeps) to the standby's applier
	// taking it from its mirror (the standby host's clock).
	StageAppendedDelivered = "appended_delivered"
	// StageDeliveredApplied: that moment to the standby's acknowledgement of
	// the Multi whose checkpoint covers the message (the standby host's clock).
	StageDeliveredApplied = "delivered_applied"
)

// StageLatency is how long replication took in each stage, cumulative since
// the component started: a source fills CommitSeen and ReadAppended, an
// applier AppendedDelivered and DeliveredApplied, and the other two stay
// empty. Sub of two snapshots gives the figures of the time between them.
type StageLatency struct {
	// CommitSeen has one observation per create and update the source
	// publishes (deletes have no mtime; snapshot nodes are not changes).
	CommitSeen journal.HistogramSnapshot `json:"commit_seen"`
	// ReadAppended has one per journal message the source's appender got
	// acknowledged (a message holds a batch of consecutive events; it is timed
	// from the read of its earliest).
	ReadAppended journal.HistogramSnapshot `json:"read_appended"`
	// AppendedDelivered has one per journal message the applier received
	// (messages read again after a restart, already applied, do not count).
	AppendedDelivered journal.HistogramSnapshot `json:"appended_delivered"`
	// DeliveredApplied has one per journal message applied.
	DeliveredApplied journal.HistogramSnapshot `json:"delivered_applied"`
}

// Sub returns what was observed after old, an earlier snapshot of the same
// component.
func (s StageLatency) Sub(old StageLatency) StageLatency {
	return StageLatency{
		CommitSeen:        s.CommitSeen.Sub(old.CommitSeen),
		ReadAppended:      s.ReadAppended.Sub(old.ReadAppended),
		AppendedDelivered: s.AppendedDelivered.Sub(old.AppendedDelivered),
		DeliveredApplied:  s.DeliveredApplied.Sub(old.DeliveredApplied),
	}
}

// Stage returns the histogram of one stage by its name; false for an unknown
// name.
func (s StageLatency) Stage(name string) (journal.HistogramSnapshot, bool) {
	switch name {
	case StageCommitSeen:
		return s.CommitSeen, true
	case StageReadAppended:
		return s.ReadAppended, true
	case StageAppendedDelivered:
		return s.AppendedDelivered, true
	case StageDeliveredApplied:
		return s.DeliveredApplied, true
	}
	return journal.HistogramSnapshot{}, false
}

// SourceStages and ApplierStages name the stages each component measures.
var (
	SourceStages  = []string{StageCommitSeen, StageReadAppended}
	ApplierStages = []string{StageAppendedDelivered, StageDeliveredApplied}
)

// Default pace of the stage reports.
const (
	DefaultStageReportInterval = 10 * time.Second
	// StageWindow is the span of time a StageReport's quantiles cover.
	StageWindow = time.Minute
)

// StageReport is what a component writes to zkpath.Stages: the median and 99th
// percentile of each of its stages over the last StageWindow (or since it
// started, if later), estimated from the histograms' buckets as Prometheus's
// histogram_quantile does.
type StageReport struct {
	Site string `json:"site"`
	// Role is "source" or "applier".
	Role string    `json:"role"`
	At   time.Time `json:"at"`
	// WindowSeconds is the span the figures cover; EverySeconds how often the
	// report is written.
	WindowSeconds float64        `json:"window_seconds"`
	EverySeconds  float64        `json:"every_seconds"`
	Stages        []StageSummary `json:"stages"`
}

// StageSummary is one stage of a StageReport.
type StageSummary struct {
	Stage string `json:"stage"`
	// Count is the observations within the window; P50 and P99 are 0 without any.
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P99   float64 `json:"p99_seconds"`
}

// Stage returns the summary of the named stage, if the report has it.
func (r StageReport) Stage(name string) (StageSummary, bool) {
	for _, s := range r.Stages {
		if s.Stage == name {
			return s, true
		}
	}
	return StageSummary{}, false
}

// Current reports whether r is recent enough at now to describe a component
// that still runs: written within three of its intervals.
func (r StageReport) Current(now time.Time) bool {
	every := time.Duration(r.EverySeconds * float64(time.Second))
	return !r.At.IsZero() && now.Sub(r.At) <= 3*every+5*time.Second
}

// newStageReport summarises window (the observations of the last span) for
// the named stages.
func newStageReport(site, role string, at time.Time, span, every time.Duration, window StageLatency, stages []string) StageReport {
	r := StageReport{Site: site, Role: role, At: at.UTC(), WindowSeconds: span.Seconds(), EverySeconds: every.Seconds()}
	for _, name := range stages {
		h, _ := window.Stage(name)
		r.Stages = append(r.Stages, StageSummary{Stage: name, Count: h.Count(),
			P50: h.Quantile(0.5).Seconds(), P99: h.Quantile(0.99).Seconds()})
	}
	return r
}

// ReadStageReport reads the report at zkpath.Stages; ok is false when there is none.
func ReadStageReport(ctx context.Context, conn *zk.Conn) (r StageReport, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return r, false, err
	}
	data, _, err := conn.Get(zkpath.Stages)
	if errors.Is(err, zk.ErrNoNode) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read %s: %w", zkpath.Stages, err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, false, fmt.Errorf("decode %s: %w", zkpath.Stages, err)
	}
	return r, true, nil
}

// StageReporter writes a component's StageReport every interval. It keeps the
// snapshots of the last StageWindow, so each report covers that window.
type StageReporter struct {
	// Site and Role ("source" or "applier") name the reporting component.
	Site, Role string
	// Every is the interval; 0 writes no report.
	Every time.Duration
	// Stages are the stages the component measures (SourceStages or
	// ApplierStages).
	Stages []string
	// Snap returns the component's cumulative stage latencies.
	Snap func() StageLatency
	// Write stores a report; a failure only costs status its figures.
	Write func(ctx context.Context, data []byte) error
	Log   hclog.Logger
}

type stampedStages struct {
	at time.Time
	s  StageLatency
}

// Run reports until ctx ends; it returns nil then, and never fails.
func (sr StageReporter) Run(ctx context.Context) error {
	if sr.Every <= 0 {
		return nil
	}
	ring := []stampedStages{{time.Now(), sr.Snap()}}
	keep := int(StageWindow/sr.Every) + 1
	t := time.NewTicker(sr.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			cur := stampedStages{now, sr.Snap()}
			ring = append(ring, cur)
			if len(ring) > keep {
				ring = append(ring[:0], ring[len(ring)-keep:]...)
			}
			old := ring[0]
			r := newStageReport(sr.Site, sr.Role, now, now.Sub(old.at), sr.Every, cur.s.Sub(old.s), sr.Stages)
			data, err := json.Marshal(r)
			if err != nil {
				return nil // cannot happen: plain fields
			}
			if err := sr.Write(ctx, data); err != nil && ctx.Err() == nil {
				sr.Log.Debug("cannot record the stage latencies", "zk-path", zkpath.Stages, "error", err)
			}
		}
	}
}

// WriteStages stores a report with a go-zookeeper session, creating the
// node when needed (/zkdr itself is made by the component's own start).
func WriteStages(conn *zk.Conn, data []byte) error {
	_, err := conn.Set(zkpath.Stages, data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = conn.Create(zkpath.Stages, data, 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			_, err = conn.Set(zkpath.Stages, data, -1)
		}
	}
	return err
}
