package applier

import (
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
)

// A standby that starts following a site re-activated at epoch 3 skips what
// that site published at epoch 1 and never got mirrored before it was deposed
// (the stale tail): those writes were lost at the promotion, and applying them
// now would bring back writes the pair has moved past. Epoch-3 events after the
// tail apply.
func TestApplierSkipsDeposedTail(t *testing.T) {
	zkc := zktest.Start(t)
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/t", "base", journal.ModePersistent, openACL))
	cfg := testApplierConfig(t, zkc, j)
	a := startApplier(t, cfg)
	eventually.True(t, 60*time.Second, "the first event applied", func() bool { return a.Stats().AppliedSeq == 1 })
	a.stop(t)

	tail := []journal.Event{
		ev(journal.KindUpdate, "/t", "lost write", journal.ModePersistent, nil),
		ev(journal.KindCreate, "/t/lost", "x", journal.ModePersistent, openACL),
		{Kind: journal.KindSnapshotBegin, Snapshot: 7, Epoch: 1},
	}
	for _, e := range tail {
		j.add(e)
	}
	for _, e := range []journal.Event{
		ev(journal.KindUpdate, "/t", "new epoch", journal.ModePersistent, nil),
		ev(journal.KindCreate, "/t/kept", "k", journal.ModePersistent, openACL),
	} {
		e.Epoch = 3
		j.add(e)
	}
	last := j.last()
	// The pair moved on: the standby now follows epoch 3.
	cfg.MinEpoch = 3
	a = startApplier(t, cfg)
	eventually.True(t, 60*time.Second, "the whole journal applied", func() bool { return a.Stats().AppliedSeq == last })

	conn := zktest.Admin(t, zkc.Servers())
	if data, _, err := conn.Get("/t"); err != nil || string(data) != "new epoch" {
		t.Fatalf("/t = %q (%v), want the epoch-3 value", data, err)
	}
	if ok, _, _ := conn.Exists("/t/lost"); ok {
		t.Fatal("/t/lost, created in the deposed tail, was applied")
	}
	if ok, _, _ := conn.Exists("/t/kept"); !ok {
		t.Fatal("/t/kept, created at epoch 3, is missing")
	}
	if st := a.Stats(); st.StaleSkipped != uint64(len(tail)) || st.Epoch != 3 {
		t.Fatalf("stats: %d stale skipped (want %d), epoch %d", st.StaleSkipped, len(tail), st.Epoch)
	}
}
