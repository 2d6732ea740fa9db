package workload

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zktree"
)

// drawn is the part of an Op that the seed decides.
type drawn struct {
	Seq  int64
	Kind Kind
	Path string
	N    int
}

// recorder keeps Run's operations, sorted by Seq on demand.
type recorder struct {
	mu  sync.Mutex
	ops []Op
}

func (r *recorder) record(op Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op.Seq > 0 {
		r.ops = append(r.ops, op)
	}
}

func (r *recorder) sorted() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.ops)
	slices.SortFunc(out, func(a, b Op) int { return int(a.Seq - b.Seq) })
	return out
}

func drawnOf(ops []Op) []drawn {
	out := make([]drawn, len(ops))
	for i, op := range ops {
		out[i] = drawn{op.Seq, op.Kind, op.Path, op.N}
	}
	return out
}

// The draw alone, without a server: the same seed gives the same sequence,
// another seed another one, and every kind of the mix comes up.
func TestDrawDependsOnTheSeedOnly(t *testing.T) {
	sequence := func(seed uint64) []drawn {
		cfg := DefaultConfig()
		cfg.Servers, cfg.Seed = []string{"127.0.0.1:1"}, seed
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.m = w.plan(rand1(cfg.Seed))
		var out []drawn
		for range 20_000 {
			op := w.draw()
			out = append(out, drawn{op.Seq, op.Kind, op.Path, op.N})
		}
		return out
	}
	a, b, c := sequence(7), sequence(7), sequence(8)
	if !slices.Equal(a, b) {
		t.Fatal("two draws from seed 7 differ")
	}
	if slices.Equal(a, c) {
		t.Fatal("seeds 7 and 8 drew the same sequence")
	}
	kinds := map[Kind]int{}
	for _, d := range a {
		kinds[d.Kind]++
	}
	for _, k := range Kinds {
		if kinds[k] == 0 {
			t.Errorf("%s never drawn in %d operations", k, len(a))
		}
	}
	t.Logf("kinds drawn: %v", kinds)
}

// Two fresh servers, the same seed, the same number of operations: the same
// operations in the same order, each doing the same writes, and the same
// persistent tree (paths, data, sequential names); only session-owned state
// (who owns an ephemeral) may differ. This is what lets a test replay one
// primary history twice.
func TestRunSameSeedSameHistory(t *testing.T) {
	const ops = 3000
	type result struct {
		ops  []Op
		tree zktree.Tree
		eph  func() int // ephemerals under /app now
	}
	runOnce := func(seed uint64) result {
		zks := startZK(t)
		var rec recorder
		w := newWorkload(t, zks, func(c *Config) {
			c.Seed, c.Size, c.Ops, c.Record = seed, 600, ops, rec.record
		})
		ctx := testContext(t, 5*time.Minute)
		if err := w.Populate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.Run(ctx); err != nil {
			t.Fatal(err)
		}
		st := w.Stats()
		t.Logf("seed %d: %d operations, %d creates, %d sets, %d deletes, %d errors", seed, st.Ops, st.Creates, st.Sets, st.Deletes, st.Errors)
		if st.Errors != 0 {
			t.Errorf("%d operations failed", st.Errors)
		}
		conn := connect(t, zks)
		eph := func() int {
			n := 0
			for _, node := range walk(t, conn, "/app", true) {
				if node.EphemeralOwner != 0 {
					n++
				}
			}
			return n
		}
		return result{ops: rec.sorted(), tree: walk(t, conn, "/app", false), eph: eph}
	}
	a, b := runOnce(42), runOnce(42)
	if len(a.ops) != ops || len(b.ops) != ops {
		t.Fatalf("recorded %d and %d operations, want %d each", len(a.ops), len(b.ops), ops)
	}
	da, db := drawnOf(a.ops), drawnOf(b.ops)
	for i := range da {
		if da[i] != db[i] {
			t.Fatalf("operation %d differs: %+v vs %+v", i+1, da[i], db[i])
		}
		wa, wb := a.ops[i], b.ops[i]
		if wa.Creates != wb.Creates || wa.Sets != wb.Sets || wa.Deletes != wb.Deletes || wa.Bytes != wb.Bytes {
			t.Fatalf("operation %+v wrote differently: %d/%d/%d creates/sets/deletes (%d B) vs %d/%d/%d (%d B)", da[i],
				wa.Creates, wa.Sets, wa.Deletes, wa.Bytes, wb.Creates, wb.Sets, wb.Deletes, wb.Bytes)
		}
	}
	if d := zktree.Diff(a.tree, b.tree); len(d) != 0 {
		t.Fatalf("the persistent trees differ in %d places, first %v", len(d), d[:min(5, len(d))])
	}
	// A closed session's ephemerals go when the server has handled its close
	// (or, if the close was lost, when it expires).
	var ea, eb int
	eventually.True(t, 30*time.Second, "the same number of ephemerals on both servers", func() bool {
		ea, eb = a.eph(), b.eph()
		return ea == eb
	})
	t.Logf("%d operations replayed alike; persistent trees of %d znodes equal; %d ephemerals each", ops, len(a.tree), ea)
}

// Run at a rate stops when its context ends, returns nil, and refuses to
// start before Populate.
func TestRunStopsWithItsContext(t *testing.T) {
	zks := startZK(t)
	w := newWorkload(t, zks, func(c *Config) { c.Size, c.Rate = 300, 200 })
	if err := w.Run(context.Background()); !errors.Is(err, ErrNotPopulated) {
		t.Fatalf("Run before Populate: %v, want ErrNotPopulated", err)
	}
	if err := w.Populate(testContext(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	eventually.True(t, time.Minute, "50 operations", func() bool { return w.Stats().Ops >= 51 }) // 1 is Populate
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of its context's end")
	}
	st := w.Stats()
	if st.Errors != 0 {
		t.Errorf("%d operations failed", st.Errors)
	}
	t.Logf("%+v", st)
}

// A server that crashes and comes back under a running workload costs it
// retries, not failures: the requests that met the lost connection are sent
// again once the sessions have reconnected (a create that had gone through
// finds its node, a delete finds none, a versioned write reads again).
func TestRunRidesOutAServerRestart(t *testing.T) {
	zks := startZK(t)
	w := newWorkload(t, zks, func(c *Config) { c.Size, c.Rate, c.RetryFor = 300, 100, 3*time.Minute })
	ctx := testContext(t, 5*time.Minute)
	if err := w.Populate(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	eventually.True(t, time.Minute, "operations before the crash", func() bool { return w.Stats().Ops > 50 })
	if err := zks.Kill(0); err != nil {
		t.Fatal(err)
	}
	if err := zks.Restart(0); err != nil {
		t.Fatal(err)
	}
	after := w.Stats().Ops
	eventually.True(t, 2*time.Minute, "operations after the restart", func() bool { return w.Stats().Ops > after+100 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := w.Stats()
	if st.Errors != 0 {
		t.Errorf("%d operations failed across the restart", st.Errors)
	}
	t.Logf("%d operations, %d creates, %d sets, %d deletes, %d errors", st.Ops, st.Creates, st.Sets, st.Deletes, st.Errors)
}
