package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Burst sizes: the measurement, 20,000 children created under one
// parent in transactions of 1,000; every tenth create is sequential, so the
// parent's sequence counter moves with the burst and must be carried too.
const (
	burstChildren   = 20_000
	burstPerMulti   = 1_000
	burstSequential = 10
)

// Guarantees 1 and 3 under a burst of child creates under one parent: the
// watermark keeps moving (a heartbeat newer than the burst's last
// transaction is applied on the standby within a generous deadline), the
// standby then holds every child of the burst, and the trees end equal. How
// long the watermark stood still is logged, never asserted: tests do not
// judge speed.
func TestBurstUnderOneParent(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	seedTree(t, east, "/app", 100)
	p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)
	waitFor(t, time.Minute, "a watermark on west", func() bool { return readCheckpoint(t, west).WatermarkZxid != 0 })
	sampler := startWatermarkSampler(west)
	defer sampler.stop()
	mustCreate(t, east, "/queue", nil, 0, nil)
	waitFor(t, time.Minute, "/queue on west", func() bool { ok, _, _ := west.Exists("/queue"); return ok })
	// A baseline of a second or so: the lag before the burst, for the log.
	waitFor(t, time.Minute, "ten watermark samples before the burst", func() bool { return sampler.count() >= 10 })
	open := zk.WorldACL(zk.PermAll)
	var names []string // every child the burst created, as the primary named it
	first := time.Now()
	for b := 0; b < burstChildren/burstPerMulti; b++ {
		ops := make([]any, 0, burstPerMulti)
		for i := 0; i < burstPerMulti; i++ {
			n := b*burstPerMulti + i
			req := &zk.CreateRequest{Path: fmt.Sprintf("/queue/n%05d", n), Data: []byte(strconv.Itoa(n)), Acl: open}
			if n%burstSequential == 0 {
				req.Path, req.Flags = "/queue/seq-", zk.FlagSequence
			}
			ops = append(ops, req)
		}
		res, err := east.Multi(ops...)
		if err != nil {
			t.Fatalf("burst transaction %d: %v", b, err)
		}
		for _, r := range res {
			names = append(names, r.String[len("/queue/"):])
		}
	}
	lastWrite := time.Now()
	// The parent's pzxid is the zxid of the last change to its children: the
	// burst's last transaction. Sync first, although this session made the
	// writes, so the read is certainly after them.
	if _, err := east.Sync("/queue"); err != nil {
		t.Fatal(err)
	}
	_, st, err := east.Exists("/queue")
	if err != nil {
		t.Fatal(err)
	}
	last := st.Pzxid
	if len(names) != burstChildren || st.NumChildren != burstChildren {
		t.Fatalf("the burst made %d children (the primary counts %d), want %d", len(names), st.NumChildren, burstChildren)
	}
	slices.Sort(names)
	t.Logf("burst: %d children (%d sequential) under /queue in %d transactions of %d, written in %s; last transaction zxid 0x%x",
		burstChildren, burstChildren/burstSequential, burstChildren/burstPerMulti, burstPerMulti, lastWrite.Sub(first).Round(time.Millisecond), last)

	// holds reports whether west's /queue has exactly the burst's children.
	holds := func() bool {
		kids, _, err := west.Children("/queue")
		if err != nil || len(kids) != len(names) {
			return false
		}
		slices.Sort(kids)
		return slices.Equal(kids, names)
	}
	var heldAt time.Time
	var wm int64
	waitFor(t, 2*time.Minute, fmt.Sprintf("a heartbeat newer than the burst (zxid > 0x%x) applied on west", last), func() bool {
		if heldAt.IsZero() && holds() {
			heldAt = time.Now()
		}
		cp, ok := tryCheckpoint(west)
		wm = cp.WatermarkZxid
		return ok && wm > last
	})
	applied := time.Since(lastWrite)
	// Guarantee 3: with a watermark past the burst's last transaction, the
	// standby holds all of it (the standby only gains children here, so a
	// read after the checkpoint's is as good as one with it).
	if !holds() {
		kids, _, err := west.Children("/queue")
		t.Fatalf("west applied watermark 0x%x > 0x%x (the burst's last transaction) but its /queue holds %d children (%v), want the burst's %d",
			wm, last, len(kids), err, burstChildren)
	}
	if heldAt.IsZero() {
		heldAt = time.Now()
	}
	sampler.stop()
	before, during := sampler.stats(time.Time{}, first), sampler.stats(first, time.Now())
	p.waitConverged(3 * time.Minute)
	t.Logf("west's watermark from the burst's first write on (sampled every 100 ms): %s; before it (%d samples), lag at most %s",
		during, before.samples, before.lag.Round(time.Millisecond))
	t.Logf("from the last write: west held the whole /queue after %s, a heartbeat newer than the burst was applied after %s",
		heldAt.Sub(lastWrite).Round(time.Millisecond), applied.Round(time.Millisecond))
}
