package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

// guardWatcher releases every pause of the delete guard on one standby and
// records what each held, in order.
type guardWatcher struct {
	mu    sync.Mutex
	holds []string
}

func watchGuard(t *testing.T, ctx context.Context, servers []string) *guardWatcher {
	t.Helper()
	conn := dial(t, servers)
	gw := &guardWatcher{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			g, ok, err := applier.ReadGuard(ctx, conn)
			if err == nil && ok && g.State == applier.GuardPaused {
				gw.mu.Lock()
				gw.holds = append(gw.holds, fmt.Sprintf("seq %d: %d deletes of %d, %d below the peak of %d", g.FirstSeq, g.Deletes, g.Replicated, g.Shrink, g.Peak))
				gw.mu.Unlock()
				if err := applier.ReleaseGuard(ctx, conn); err != nil && ctx.Err() == nil {
					t.Errorf("release guard: %v", err)
				}
				continue
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(wg.Wait)
	return gw
}

func (gw *guardWatcher) list() []string {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	return append([]string(nil), gw.holds...)
}

// applyJournal applies the west mirror of east's journal into a fresh
// ensemble up to seq last with an applier of the default guard settings. With
// restartEvery, the applier batches small (Multis of 50 ops, 4 messages
// fetched at a time) and is stopped and started again each time it has
// applied another restartEvery messages. It returns the guard's holds.
func applyJournal(t *testing.T, p *pair, last, restartEvery uint64) []string {
	t.Helper()
	zkc := zkserver.StartT(t, zkserver.Config{Servers: 1, SuperDigest: superAuth, ExtendedTypes: true})
	js, done := jetStreamAt(t, p.nats["west"].ClientURL())
	defer done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw := watchGuard(t, ctx, zkc.Servers())
	def := configs.Default()
	stream := journal.StreamName("east")
	runs := 0
	for applied := uint64(0); applied < last; {
		cfg := applier.DefaultConfig()
		cfg.Site, cfg.Stream = "replay", stream
		cfg.Servers, cfg.Auth = zkc.Servers(), superAuth
		cfg.Scope = zkpath.Scope{Include: def.Replication.Include, Exclude: def.Replication.Exclude}
		cfg.Logger = p.logger.Named(fmt.Sprintf("history-applier-%d", runs))
		if restartEvery > 0 {
			cfg.MaxBatchOps, cfg.FetchMax = 50, 4
		}
		cfg.OpenReader = func(ctx context.Context, startSeq uint64) (applier.JournalReader, error) {
			return journal.NewReader(js, journal.ReaderConfig{Stream: stream, StartSeq: startSeq})
		}
		ap, err := applier.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- ap.Run(rctx) }()
		until := last
		if restartEvery > 0 {
			until = min(last, applied+restartEvery)
		}
		waitFor(t, 3*time.Minute, fmt.Sprintf("applier run %d to apply sequence %d", runs, until), func() bool {
			return ap.Stats().AppliedSeq >= until
		})
		stop()
		if err := <-errc; err != nil {
			t.Fatalf("applier run %d: %v", runs, err)
		}
		applied = ap.Stats().AppliedSeq
		runs++
	}
	t.Logf("applied %d messages in %d runs", last, runs)
	return gw.list()
}

// Guarantee 8: the delete guard's verdicts are a function of the primary's
// history. The same journal (an application workload, a topic deletion, more
// of the workload, then a wipe) applied live, applied again in one run, and
// applied again by an applier stopped and restarted every few messages, is
// held at the same messages with the same figures: the topic deletion passes
// and the wipe is held, everywhere.
func TestGuardVerdictsIgnoreRestarts(t *testing.T) {
	p := newPair(t)
	east := p.conn["east"]
	p.start("east")
	p.start("west")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := watchGuard(t, ctx, p.zk["west"].Servers())

	w := startWorkload(t, p, 19, 300, 200)
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p.waitConverged(2 * time.Minute)
	n, err := w.DeleteTopic(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("topic deletion: %d znodes of %d", n, countTree(t, east, "/"))
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = w.Wipe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wipe: %d znodes", n)
	_ = w.Close() // its ephemerals go too
	p.waitConverged(3 * time.Minute)

	holds := live.list()
	if len(holds) != 1 {
		t.Fatalf("the live standby held %v, want exactly one hold (the wipe)", holds)
	}
	last := readCheckpoint(t, p.conn["west"]).Seq
	once := applyJournal(t, p, last, 0)
	restarted := applyJournal(t, p, last, max(last/7, 1))
	if fmt.Sprint(once) != fmt.Sprint(holds) || fmt.Sprint(restarted) != fmt.Sprint(holds) {
		t.Fatalf("the guard's verdicts depend on the run:\n live:      %v\n one run:   %v\n restarted: %v", holds, once, restarted)
	}
	t.Logf("held the same everywhere: %v", holds)
}
