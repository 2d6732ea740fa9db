package workload

import (
	"errors"
	"testing"
	"time"
)

// Wipe deletes every root with everything under it, ephemerals of live
// sessions too, like an errant `deleteall`; the prefix stays, empty. Run
// refuses to go on until Populate builds the tree again.
func TestWipeLeavesTheRootsEmpty(t *testing.T) {
	zks := startZK(t)
	w := newWorkload(t, zks, func(c *Config) { c.Size, c.Ops = 1000, 500 })
	ctx := testContext(t, 3*time.Minute)
	if err := w.Populate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, zks)
	before := len(walk(t, conn, "/app", true)) - 1
	n, err := w.Wipe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kids, _, err := conn.Children("/app")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 0 {
		t.Fatalf("after Wipe /app still has %v", kids)
	}
	if n != before {
		t.Errorf("Wipe reported %d deletes; the tree had %d znodes", n, before)
	}
	t.Logf("wiped %d znodes", n)
	if err := w.Run(ctx); !errors.Is(err, ErrNotPopulated) {
		t.Fatalf("Run after Wipe: %v, want ErrNotPopulated", err)
	}
	if err := w.Populate(ctx); err != nil {
		t.Fatal(err)
	}
	if again := len(walk(t, conn, "/app", true)) - 1; again < 950 || again > 1050 {
		t.Errorf("populated again: %d znodes, want about 1000", again)
	}
}

// DrainQueue deletes every item of a queue and says how many.
func TestDrainQueueEmptiesIt(t *testing.T) {
	zks := startZK(t)
	w := newWorkload(t, zks, nil)
	ctx := testContext(t, 2*time.Minute)
	if err := w.Populate(ctx); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, zks)
	q := w.Queues()[0]
	kids, _, err := conn.Children("/app/queues/" + q)
	if err != nil || len(kids) == 0 {
		t.Fatalf("queue %s: %d items, %v", q, len(kids), err)
	}
	n, err := w.DrainQueue(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(kids) {
		t.Errorf("drained %d items of %d", n, len(kids))
	}
	if left, _, err := conn.Children("/app/queues/" + q); err != nil || len(left) != 0 {
		t.Errorf("after the drain: %d items, %v", len(left), err)
	}
	if _, err := w.DrainQueue(ctx, "no-such-queue"); !errors.Is(err, ErrUnknownQueue) {
		t.Errorf("drain of an unknown queue: %v, want ErrUnknownQueue", err)
	}
}
