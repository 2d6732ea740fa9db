package source

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
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

// The source times commit → seen once per create and update it publishes
// (not for snapshot nodes or deletes), hands every event's read time to a
// publisher that times read → appended, and reports both stages in
// /zkdr/stages on the active ensemble. On both kinds of watch.
func TestSourceTimesStages(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
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
				r, ok, err := replicator.ReadStageReport(context.Background(), admin)
				if err != nil || !ok {
					return false
				}
				s, _ := r.Stage(replicator.StageCommitSeen)
				ra, _ := r.Stage(replicator.StageReadAppended)
				return r.Role == "source" && r.Site == "east" && s.Count > 0 && ra.Count > 0 && r.Current(time.Now())
			})
		})
	}
}
