package replicator

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/journal"
)

// stageFakePub is a fakePub that is told when each event was read, as
// *journal.Appender is, and times read → appended at the append itself.
type stageFakePub struct {
	fakePub
	mu     sync.Mutex
	unread int // events appended without a read time
	h      journal.Histogram
}

func (p *stageFakePub) Append(ctx context.Context, ev journal.Event) error {
	p.mu.Lock()
	p.unread++
	p.mu.Unlock()
	return p.fakePub.Append(ctx, ev)
}

func (p *stageFakePub) AppendRead(ctx context.Context, ev journal.Event, readAt time.Time) error {
	p.h.Observe(time.Since(readAt))
	return p.fakePub.Append(ctx, ev)
}

func (p *stageFakePub) ReadAppended() journal.HistogramSnapshot { return p.h.Snapshot() }

func (p *stageFakePub) unreadCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unread
}

var _ stagePublisher = (*stageFakePub)(nil)

// A report covers what was observed within its window: nothing from before
// the reporter started, everything since, summarised by median and 99th
// percentile of the reporter's stages; it is current for three intervals.
func TestStageReporterWindow(t *testing.T) {
	var h journal.Histogram
	h.Observe(time.Hour) // before the reporter: in no report
	reports := make(chan StageReport, 64)
	sr := stageReporter{site: "east", role: "source", every: 20 * time.Millisecond, stages: SourceStages,
		snap: func() StageLatency { return StageLatency{CommitSeen: h.Snapshot()} },
		write: func(_ context.Context, data []byte) error {
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
		log: hclog.NewNullLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sr.run(ctx) }()
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
	if (stageReporter{}).run(context.Background()) != nil {
		t.Fatal("a reporter without an interval fails")
	}
}

// The source times commit → seen once per create and update it publishes
// (not for snapshot nodes or deletes), hands every event's read time to a
// publisher that times read → appended, and reports both stages in
// /zkdr/stages on the active ensemble. On both kinds of watch.
func TestSourceTimesStages(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := startZK(t)
	admin := adminConn(t, zks.Servers())
	mustCreate(t, admin, "/app", []byte("a"))
	createChildren(t, admin, "/app", 50, 10)
	for _, watch := range []string{WatchRecursive, WatchOneShot} {
		t.Run(watch, func(t *testing.T) {
			root := "/" + watch
			mustCreate(t, admin, root, nil)
			pub := &stageFakePub{}
			cfg := testSourceConfig(t, zks.Servers())
			cfg.Watch = watch
			cfg.StageReportInterval = 100 * time.Millisecond
			src := runSource(t, cfg, pub)
			sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })
			if n := src.Stats().Stages.CommitSeen.Count(); n != 0 {
				t.Fatalf("%d commit → seen observations from a snapshot", n)
			}
			start := time.Now()
			for i := range 20 {
				mustCreate(t, admin, fmt.Sprintf("%s/n%d", root, i), []byte("1"))
			}
			for i := range 20 {
				if _, err := admin.Set(fmt.Sprintf("%s/n%d", root, i), []byte("2"), -1); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				if err := admin.Delete(fmt.Sprintf("%s/n%d", root, i), -1); err != nil {
					t.Fatal(err)
				}
			}
			changes := func() (creates, updates, deletes int) {
				for _, e := range pub.snapshot() {
					switch e.Kind {
					case journal.KindCreate:
						creates++
					case journal.KindUpdate:
						updates++
					case journal.KindDelete:
						deletes++
					}
				}
				return
			}
			sourceWaitFor(t, 60*time.Second, "the changes published", func() bool {
				m := newModel()
				replayInto(m, pub.snapshot()...)
				_, ok := m.nodes[root+"/n4"]
				return !ok && string(m.nodes[root+"/n19"].Data) == "2"
			})
			creates, updates, deletes := changes()
			st := src.Stats().Stages
			if got := st.CommitSeen.Count(); got != uint64(creates+updates) {
				t.Fatalf("%d commit → seen observations for %d creates and %d updates (%d deletes)", got, creates, updates, deletes)
			}
			// Each is the time since the node's mtime, which no write here
			// predates.
			if limit := time.Duration(creates+updates) * (time.Since(start) + time.Millisecond); st.CommitSeen.Sum > limit {
				t.Fatalf("commit → seen sums to %v over %d changes made within %v", st.CommitSeen.Sum, creates+updates, time.Since(start))
			}
			if n := pub.unreadCount(); n != 0 {
				t.Fatalf("%d events appended without a read time", n)
			}
			if st.ReadAppended.Count() != uint64(len(pub.snapshot())) {
				t.Fatalf("read → appended has %d observations for %d events", st.ReadAppended.Count(), len(pub.snapshot()))
			}
			sourceWaitFor(t, 60*time.Second, "a stage report with the changes", func() bool {
				r, ok, err := ReadStageReport(context.Background(), admin)
				if err != nil || !ok {
					return false
				}
				s, _ := r.Stage(StageCommitSeen)
				ra, _ := r.Stage(StageReadAppended)
				return r.Role == "source" && r.Site == "east" && s.Count > 0 && ra.Count > 0 && r.Current(time.Now())
			})
		})
	}
}

// The applier times appended → delivered from each message's store time to
// its delivery, and delivered → applied from delivery to the Multi that
// applies it, once per message; messages read again after a restart (an open
// snapshot's, already applied) are not timed again. Both are reported in
// /zkdr/stages on the standby.
func TestApplierTimesStages(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zkc := startZK(t)
	admin := adminConn(t, zkc.Servers())
	j := newFakeJournal()
	stored := time.Now().Add(-time.Second) // a second before anything reads it
	const snap = 42
	j.addAt(stored, journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotBegin, Snapshot: snap, Time: 1})
	node := ev(journal.KindSnapshotNode, "/app", "a", journal.ModePersistent, openACL)
	node.Snapshot = snap
	j.addAt(stored, node)
	for i := range 10 {
		j.addAt(stored, ev(journal.KindCreate, fmt.Sprintf("/app/n%d", i), "x", journal.ModePersistent, openACL))
	}
	last := j.addAt(stored, journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: 7, Time: time.Now().UnixNano()})

	cfg := testApplierConfig(t, zkc, j)
	cfg.StageReportInterval = 100 * time.Millisecond
	a := startApplier(t, cfg)
	waitApplied(t, a.Applier, last)
	st := a.Stats().Stages
	if st.AppendedDelivered.Count() != last || st.DeliveredApplied.Count() != last {
		t.Fatalf("%d messages applied: appended → delivered has %d observations, delivered → applied %d",
			last, st.AppendedDelivered.Count(), st.DeliveredApplied.Count())
	}
	if fast := st.AppendedDelivered.Cumulative()[1]; fast != 0 {
		t.Fatalf("%d messages stored a second before they were read timed at under a second", fast)
	}
	if st.CommitSeen.Count() != 0 || st.ReadAppended.Count() != 0 {
		t.Fatalf("the applier reports source stages: %+v", st)
	}
	waitFor(t, 60*time.Second, "a stage report from the applier", func() bool {
		r, ok, err := ReadStageReport(context.Background(), admin)
		if err != nil || !ok {
			return false
		}
		ad, _ := r.Stage(StageAppendedDelivered)
		da, _ := r.Stage(StageDeliveredApplied)
		return r.Role == "applier" && r.Site == "west" && ad.Count == last && da.Count == last && ad.P50 >= 1
	})
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	// A new applier reads the open snapshot again from its begin: only the
	// message that follows is timed.
	b := startApplier(t, cfg)
	more := j.add(ev(journal.KindUpdate, "/app/n1", "y", journal.ModePersistent, nil))
	waitApplied(t, b.Applier, more)
	st = b.Stats().Stages
	if st.AppendedDelivered.Count() != 1 || st.DeliveredApplied.Count() != 1 {
		t.Fatalf("after a restart inside a snapshot, one new message: appended → delivered %d, delivered → applied %d",
			st.AppendedDelivered.Count(), st.DeliveredApplied.Count())
	}
}
