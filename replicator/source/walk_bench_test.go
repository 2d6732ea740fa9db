package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
)

// countPub counts events and drops them.
type countPub struct{ n atomic.Uint64 }

func (p *countPub) Append(context.Context, journal.Event) error { p.n.Add(1); return nil }
func (p *countPub) Flush(context.Context) error                 { return nil }

// TestBootstrapRate measures the bootstrap walk on a 100k-znode tree (100 parents
// of 1,000 children, 100 bytes each) with and without bulk sessions, next to an
// independent plain walk (Get + GetACL + Children, 64 in flight, one session) in
// the same run. Set ZKDR_BENCH=1 to run it; it prints figures, asserts none.
// ZKDR_HEAP_PROFILE=DIR also writes the heap after each bootstrap to
// DIR/bootstrap-heap-bulkN.pprof (go tool pprof -sample_index=inuse_space).
func TestBootstrapRate(t *testing.T) {
	if os.Getenv("ZKDR_BENCH") == "" {
		t.Skip("set ZKDR_BENCH=1 to measure the bootstrap rate")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/bench", nil)
	start := time.Now()
	for i := 0; i < 100; i++ {
		parent := fmt.Sprintf("/bench/d%04d", i)
		mustCreate(t, admin, parent, nil)
		createChildren(t, admin, parent, 1000, 100)
	}
	t.Logf("loaded 100,100 znodes in %v", time.Since(start))

	start = time.Now()
	tree, err := zktree.Walk(context.Background(), admin, "/bench", zktree.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain := time.Since(start)
	t.Logf("plain walk: %d znodes in %v = %.0f znodes/s", len(tree), plain, float64(len(tree))/plain.Seconds())

	for _, c := range []struct {
		watch      string
		bulk, conc int
	}{{WatchOneShot, 3, 256}, {WatchRecursive, 0, 256}, {WatchRecursive, 3, 256}} {
		cfg := testSourceConfig(t, zks.Servers())
		cfg.Watch, cfg.BulkSessions, cfg.ReadConcurrency = c.watch, c.bulk, c.conc
		cfg.Scope = zkpath.Scope{Include: []string{"/bench"}}
		cfg.Logger = nil
		pub := &countPub{}
		src, err := New(cfg, pub)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx) }()
		sourceWaitFor(t, 10*time.Minute, "bootstrap", func() bool { return src.Stats().Bootstrapped })
		st := src.Stats()
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		t.Logf("%s: heap after bootstrap: %.0f bytes per znode (index, watch bookkeeping, everything else)",
			c.watch, float64(ms.HeapAlloc)/float64(st.BootstrapNodes))
		if dir := os.Getenv("ZKDR_HEAP_PROFILE"); dir != "" {
			writeHeapProfile(t, filepath.Join(dir, fmt.Sprintf("bootstrap-heap-%s-bulk%d.pprof", c.watch, c.bulk)))
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		t.Logf("%s source bootstrap, %d bulk sessions, %d in flight: %d znodes in %v = %.0f znodes/s (%.2fx the plain walk), %d events",
			c.watch, c.bulk, c.conc, st.BootstrapNodes, st.BootstrapDuration, float64(st.BootstrapNodes)/st.BootstrapDuration.Seconds(),
			plain.Seconds()/st.BootstrapDuration.Seconds(), pub.n.Load())
	}
}

// writeHeapProfile writes the live heap (as of the last GC) to path.
func writeHeapProfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("heap profile: %s", path)
}
