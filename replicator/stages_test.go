package replicator

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/journal"
)

// A report covers what was observed within its window: nothing from before
// the reporter started, everything since, summarised by median and 99th
// percentile of the reporter's stages; it is current for three intervals.
func TestStageReporterWindow(t *testing.T) {
	var h journal.Histogram
	h.Observe(time.Hour) // before the reporter: in no report
	reports := make(chan StageReport, 64)
	sr := StageReporter{Site: "east", Role: "source", Every: 20 * time.Millisecond, Stages: SourceStages,
		Snap: func() StageLatency { return StageLatency{CommitSeen: h.Snapshot()} },
		Write: func(_ context.Context, data []byte) error {
			var r StageReport
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			select {
			case reports <- r:
			default:
			}
			return nil
		},
		Log: hclog.NewNullLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sr.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reporter: %v", err)
		}
	}()
	next := func() StageReport {
		select {
		case r := <-reports:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("no report within 30s")
			return StageReport{}
		}
	}
	r := next()
	if r.Site != "east" || r.Role != "source" || len(r.Stages) != 2 || r.Stages[0].Stage != StageCommitSeen || r.Stages[1].Stage != StageReadAppended {
		t.Fatalf("report %+v", r)
	}
	if r.Stages[0].Count != 0 || r.Stages[0].P99 != 0 {
		t.Fatalf("an observation from before the reporter started is reported: %+v", r.Stages[0])
	}
	if !r.Current(r.At.Add(time.Second)) || r.Current(r.At.Add(time.Hour)) {
		t.Fatalf("report written every %vs: current a second later %v, an hour later %v", r.EverySeconds, r.Current(r.At.Add(time.Second)), r.Current(r.At.Add(time.Hour)))
	}
	for range 10 {
		h.Observe(300 * time.Millisecond)
	}
	for {
		r = next()
		if s, _ := r.Stage(StageCommitSeen); s.Count == 10 {
			if s.P50 < 0.25 || s.P50 > 0.5 || s.P99 < s.P50 || s.P99 > 0.5 {
				t.Fatalf("ten observations of 300 ms summarised as %+v", s)
			}
			if r.WindowSeconds <= 0 || r.WindowSeconds > StageWindow.Seconds()+1 {
				t.Fatalf("window %vs", r.WindowSeconds)
			}
			break
		}
	}
	if (StageReporter{}).Run(context.Background()) != nil {
		t.Fatal("a reporter without an interval fails")
	}
}
