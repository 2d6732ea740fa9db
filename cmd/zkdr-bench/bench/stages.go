package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/zkdr/zkdr/replicator"
)

// StageFigure is one replication stage's latency over a scenario's load, from
// the daemons' own histograms (see replicator.StageLatency).
type StageFigure struct {
	Stage string        `json:"stage"`
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
}

// stages reads the source's stages from the active daemon and the applier's
// from the standby's; a site's daemon run as a process leaves its stages
// empty.
func (p *zkdrPair) stages() replicator.StageLatency {
	var s replicator.StageLatency
	if d := p.daemons[p.active]; d != nil {
		if src := d.d.Status().Source; src != nil {
			s.CommitSeen, s.ReadAppended = src.Stages.CommitSeen, src.Stages.ReadAppended
		}
	}
	if d := p.daemons[p.standbyName()]; d != nil {
		if ap := d.d.Status().Applier; ap != nil {
			s.AppendedDelivered, s.DeliveredApplied = ap.Stages.AppendedDelivered, ap.Stages.DeliveredApplied
		}
	}
	return s
}

// stageFigures is what happened in each stage between two readings of
// stages; nil when a daemon was replaced between them (its counts started
// again).
func stageFigures(before, after replicator.StageLatency) []StageFigure {
	var out []StageFigure
	for _, name := range []string{replicator.StageCommitSeen, replicator.StageReadAppended, replicator.StageAppendedDelivered, replicator.StageDeliveredApplied} {
		b, _ := before.Stage(name)
		a, _ := after.Stage(name)
		if a.Count() < b.Count() {
			return nil
		}
		d := a.Sub(b)
		out = append(out, StageFigure{Stage: name, Count: d.Count(), P50: d.Quantile(0.5), P99: d.Quantile(0.99)})
	}
	return out
}

// stagesText is the stage columns of a lag row: p50 / p99 per stage.
func stagesText(st []StageFigure) string {
	if len(st) == 0 {
		return ""
	}
	parts := make([]string, 0, len(st))
	for _, f := range st {
		if f.Count == 0 {
			parts = append(parts, strings.ReplaceAll(f.Stage, "_", "→")+" —")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s / %s", strings.ReplaceAll(f.Stage, "_", "→"), ms(f.P50), ms(f.P99)))
	}
	return "; by stage (p50 / p99): " + strings.Join(parts, ", ")
}
