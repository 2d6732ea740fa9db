package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

// Guarantee 4: kill -9 of the applier at any point, then restart: the standby
// converges and no event is applied twice; kill -9 of the source: the journal
// stays contiguous and the standby converges. An application workload (Kafka
// topics created and deleted, queues drained, locks and registrations coming
// and going) runs throughout, with the default delete guard, which must not
// pause on any of it.
func TestKillDaemons(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/crash", nil, 0, nil)
	p.startProcess("east")
	p.startProcess("west")
	waitFor(t, 2*time.Minute, "bootstrap on west", func() bool { ok, _, _ := west.Exists("/crash"); return ok })
	apps := startWorkload(t, p, 11, 0, 100)
	appCtx, appStop := context.WithCancel(context.Background())
	appDone := make(chan error, 1)
	go func() { appDone <- apps.Run(appCtx) }()
	stopApps := func() {
		appStop()
		if err := <-appDone; err != nil {
			t.Errorf("workload: %v", err)
		}
		t.Logf("workload: %+v", apps.Stats())
	}

	// Counters that are only created and set. Each create, update or
	// snapshot-node event of a path is exactly one write on the standby, so a
	// standby version equal to the journal's count of such events minus one
	// proves that every event was applied exactly once across the kills.
	const keys = 50
	for i := 0; i < keys; i++ {
		mustCreate(t, east, fmt.Sprintf("/crash/c%02d", i), counter(0), 0, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sets atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := uint64(1); ctx.Err() == nil; n++ {
				if _, err := east.Set(fmt.Sprintf("/crash/c%02d", (w*13+int(n))%keys), counter(n), -1); err == nil {
					sets.Add(1)
				}
			}
		}(w)
	}
	for round := 0; round < 3; round++ {
		before := readCheckpoint(t, west).Seq
		waitFor(t, time.Minute, "the applier to make progress", func() bool { return readCheckpoint(t, west).Seq > before+20 })
		p.daemons["west"].kill()
		t.Logf("round %d: killed the applier at checkpoint %d", round, readCheckpoint(t, west).Seq)
		p.startProcess("west")
	}
	cancel()
	wg.Wait()
	stopApps()
	t.Logf("%d primary sets", sets.Load())
	p.waitConverged(2 * time.Minute)
	writes := journalWrites(t, p.nats["west"].ClientURL(), journal.StreamName("east"))
	for i := 0; i < keys; i++ {
		path := fmt.Sprintf("/crash/c%02d", i)
		_, sw, err := west.Get(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := int32(writes[path] - 1); sw.Version != want {
			t.Fatalf("%s: standby version %d, but the journal holds %d writes of it (want version %d): an event was applied twice or skipped",
				path, sw.Version, writes[path], want)
		}
	}

	// Now the source: kill -9 it during writes, restart, and check the journal.
	ctx, cancel = context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); mixedWorkload(ctx, east, "/crash", 3) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := apps.Run(ctx); err != nil {
			t.Errorf("workload: %v", err)
		}
	}()
	time.Sleep(time.Second) // let the workload get going; correctness does not depend on it
	p.daemons["east"].kill()
	p.startProcess("east")
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	p.waitConverged(2 * time.Minute)
	assertContiguous(t, p.nats["east"].ClientURL(), journal.StreamName("east"))
	if _, ok, err := applier.ReadGuard(context.Background(), west); err != nil || ok {
		t.Fatalf("the delete guard holds on the standby (%v, %v): the workload's deletes are ordinary", ok, err)
	}
}

// journalWrites counts, per path, the journal events that write a node's data
// (create, update, snapshot-node), reading the whole stream at url.
func journalWrites(t *testing.T, url, stream string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	readJournal(t, url, stream, func(m journal.Message) {
		for _, ev := range m.Events {
			switch ev.Kind {
			case journal.KindCreate, journal.KindUpdate, journal.KindSnapshotNode:
				counts[ev.Path]++
			}
		}
	})
	return counts
}

// assertContiguous checks that a journal stream holds every sequence from its
// first to its last, each decodable.
func assertContiguous(t *testing.T, url, stream string) {
	t.Helper()
	var next uint64
	first, last := readJournal(t, url, stream, func(m journal.Message) {
		if next != 0 && m.FirstSeq != next {
			t.Fatalf("journal gap: expected sequence %d, got %d", next, m.FirstSeq)
		}
		next = m.Seq + 1
	})
	t.Logf("journal %s: sequences %d..%d contiguous and decodable", stream, first, last)
}

// readJournal reads every message of a stream in order; it fails the test if
// the stream's state shows a hole or a message cannot be decoded.
func readJournal(t *testing.T, url, stream string, fn func(journal.Message)) (first, last uint64) {
	t.Helper()
	js, done := jetStreamAt(t, url)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := info.State
	if st.NumDeleted != 0 || st.Msgs != st.LastSeq-st.FirstSeq+1 {
		t.Fatalf("journal %s is not contiguous: first %d last %d msgs %d deleted %d", stream, st.FirstSeq, st.LastSeq, st.Msgs, st.NumDeleted)
	}
	r, err := journal.NewReader(js, journal.ReaderConfig{Stream: stream, StartSeq: st.FirstSeq})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for next := st.FirstSeq; next <= st.LastSeq; {
		msgs, err := r.Fetch(ctx, 512)
		if err != nil {
			t.Fatalf("read journal %s at %d: %v", stream, next, err)
		}
		for _, m := range msgs {
			fn(m)
			next = m.Seq + 1
		}
	}
	return st.FirstSeq, st.LastSeq
}
