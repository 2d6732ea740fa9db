package applier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// The applier times appended → delivered from each message's store time to
// its delivery, and delivered → applied from delivery to the Multi that
// applies it, once per message; messages read again after a restart (an open
// snapshot's, already applied) are not timed again. Both are reported in
// /zkdr/stages on the standby.
func TestApplierTimesStages(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zkc := zktest.Start(t)
	admin := zktest.Admin(t, zkc.Servers())
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
	eventually.True(t, 60*time.Second, "a stage report from the applier", func() bool {
		r, ok, err := replicator.ReadStageReport(context.Background(), admin)
		if err != nil || !ok {
			return false
		}
		ad, _ := r.Stage(replicator.StageAppendedDelivered)
		da, _ := r.Stage(replicator.StageDeliveredApplied)
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
