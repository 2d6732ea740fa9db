package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/workload"
)

// seedTree writes every kind of node zkdr must carry under root.
func seedTree(t *testing.T, c *zk.Conn, root string, children int) {
	t.Helper()
	open := zk.WorldACL(zk.PermAll)
	mustCreate(t, c, root, []byte("root"), 0, nil)
	mustCreate(t, c, root+"/plain", []byte("hello"), 0, nil)
	binaryData := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(binaryData)
	mustCreate(t, c, root+"/binary", binaryData, 0, nil)
	big := bytes.Repeat([]byte("0123456789"), 100_000) // 1,000,000 bytes
	mustCreate(t, c, root+"/big", big, 0, nil)
	mustCreate(t, c, root+"/ünïcödé and spaces.dots", []byte("名前"), 0, nil)
	mustCreate(t, c, root+"/acl-read-only", []byte("ro"), 0, zk.WorldACL(zk.PermRead))
	mustCreate(t, c, root+"/acl-digest", []byte("only alice"), 0, zk.DigestACL(zk.PermAll, "alice", "alice-pw"))
	mustCreate(t, c, root+"/queue", nil, 0, nil)
	for i := 0; i < 5; i++ {
		mustCreate(t, c, root+"/queue/job-", []byte(strconv.Itoa(i)), zk.FlagSequence, nil)
	}
	if _, err := c.CreateContainer(root+"/container", []byte("c"), zk.FlagContainer, open); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c, root+"/container/child", nil, 0, nil) // keeps the container alive
	if _, err := c.CreateTTL(root+"/ttl", []byte("t"), zk.FlagTTL, open, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(root+"/ephemeral", []byte("session-bound"), zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c, root+"/wide", nil, 0, nil)
	ops := make([]any, 0, 500)
	flush := func() {
		if len(ops) > 0 {
			if _, err := c.Multi(ops...); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	for i := 0; i < children; i++ {
		ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/wide/n%05d", root, i), Data: []byte{byte(i)}, Acl: open})
		if len(ops) == cap(ops) {
			flush()
		}
	}
	flush()
}

// mixedWorkload runs creates, sets, deletes (recursive too), delete+re-create
// and ACL changes from several writers until ctx ends.
func mixedWorkload(ctx context.Context, c *zk.Conn, root string, writers int) (ops int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := zk.WorldACL(zk.PermAll)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			base := fmt.Sprintf("%s/w%d", root, w)
			_, _ = c.Create(base, nil, 0, open)
			n := 0
			for ctx.Err() == nil {
				p := fmt.Sprintf("%s/k%d", base, r.Intn(20))
				switch r.Intn(8) {
				case 0, 1:
					_, _ = c.Create(p, []byte(strconv.Itoa(n)), 0, open)
				case 2, 3:
					_, _ = c.Set(p, []byte(strconv.Itoa(n)), -1)
				case 4:
					_, _ = c.Create(p+"/sub", []byte("s"), 0, open)
				case 5: // recursive delete
					_ = c.Delete(p+"/sub", -1)
					_ = c.Delete(p, -1)
				case 6: // delete + re-create
					if c.Delete(p, -1) == nil {
						_, _ = c.Create(p, []byte("again"), 0, open)
					}
				case 7:
					_, _ = c.SetACL(p, zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermCreate|zk.PermDelete|zk.PermAdmin), -1)
				}
				n++
			}
			mu.Lock()
			ops += n
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	return ops
}

// Guarantee 1: when writes stop, the standby's tree equals the active one in
// paths, data bytes, ACLs and modes; ephemerals are skipped. Beside the mixed
// writers, applications write as they do (internal/workload: Kafka, locks,
// queues, a registry, Solr state of tens of KB).
func TestConvergence(t *testing.T) {
	p := newPair(t)
	east := p.conn["east"]
	seedTree(t, east, "/app", 10_000) // captured by the bootstrap snapshot
	wcfg := workload.DefaultConfig()
	wcfg.Servers, wcfg.Auth, wcfg.Prefix, wcfg.Seed, wcfg.Rate = p.zk["east"].Servers(), superAuth, "/apps", 29, 200
	wcfg.Logger = p.logger.Named("workload")
	apps, err := workload.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = apps.Close() })
	if err := apps.Populate(context.Background()); err != nil { // in the bootstrap snapshot too
		t.Fatal(err)
	}
	p.start("east")
	p.start("west")

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	seedTree(t, east, "/later", 100) // captured as live events
	appsDone := make(chan error, 1)
	go func() { appsDone <- apps.Run(ctx) }()
	ops := mixedWorkload(ctx, east, "/app", 4)
	if err := <-appsDone; err != nil {
		t.Fatal(err)
	}
	cancel()
	t.Logf("mixed workload: %d operations; applications: %+v", ops, apps.Stats())

	p.waitConverged(3 * time.Minute)
	if ok, _, _ := p.conn["west"].Exists("/app/ephemeral"); ok {
		t.Fatal("an ephemeral node was replicated")
	}
	data, _, err := p.conn["west"].Get("/app/big")
	if err != nil || len(data) != 1_000_000 {
		t.Fatalf("1 MB node on west: %d bytes, %v", len(data), err)
	}
}

// Guarantee 2: the standby never shows an older state of a path after a newer one.
func TestPerPathOrder(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	const keys = 5
	for i := 0; i < keys; i++ {
		mustCreate(t, east, fmt.Sprintf("/counter%d", i), counter(0), 0, nil)
	}
	p.start("east")
	p.start("west")
	waitFor(t, 2*time.Minute, "bootstrap on west", func() bool { ok, _, _ := west.Exists("/counter0"); return ok })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	const writes = 1500
	for i := 0; i < keys; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := uint64(1); n <= writes && ctx.Err() == nil; n++ {
				if _, err := east.Set(fmt.Sprintf("/counter%d", i), counter(n), -1); err != nil {
					t.Errorf("set: %v", err)
					return
				}
			}
		}(i)
	}
	// Read the standby while it applies: every key's value only grows.
	last := make([]uint64, keys)
	reads := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	check := func() bool {
		allDone := true
		for i := 0; i < keys; i++ {
			data, _, err := west.Get(fmt.Sprintf("/counter%d", i))
			if err != nil {
				t.Fatalf("read west: %v", err)
			}
			v := binary.BigEndian.Uint64(data)
			if v < last[i] {
				t.Fatalf("/counter%d went back from %d to %d on the standby", i, last[i], v)
			}
			last[i] = v
			reads++
			allDone = allDone && v == writes
		}
		return allDone
	}
	waitFor(t, 3*time.Minute, "all counters applied", check)
	<-done
	t.Logf("%d reads of the standby saw every counter only grow", reads)
}

func counter(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// Guarantee 3: after the standby applied heartbeat W, it holds every change
// with zxid <= W.
func TestWatermark(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/wm", nil, 0, nil)
	const keys = 20
	for i := 0; i < keys; i++ {
		mustCreate(t, east, fmt.Sprintf("/wm/k%d", i), counter(0), 0, nil)
	}
	p.start("east")
	p.start("west")

	type write struct {
		key  int
		val  uint64
		zxid int64
	}
	var mu sync.Mutex
	var log []write
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := uint64(1); ctx.Err() == nil; n++ {
				k := (w*5 + int(n)) % keys
				val := n<<8 | uint64(w)
				st, err := east.Set(fmt.Sprintf("/wm/k%d", k), counter(val), -1)
				if err != nil {
					continue
				}
				mu.Lock()
				log = append(log, write{k, val, st.Mzxid})
				mu.Unlock()
			}
		}(w)
	}
	// Sample the standby while writes go on: its watermark W first, then every
	// key's value. Checked once the writes are over and their zxids known.
	type sample struct {
		w    int64
		vals [keys]uint64
	}
	var samples []sample
	for ctx.Err() == nil {
		cp := readCheckpoint(t, west)
		if cp.WatermarkZxid == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s := sample{w: cp.WatermarkZxid}
		for k := 0; k < keys; k++ {
			data, _, err := west.Get(fmt.Sprintf("/wm/k%d", k))
			if err != nil {
				t.Fatal(err)
			}
			s.vals[k] = binary.BigEndian.Uint64(data)
		}
		samples = append(samples, s)
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	zxidOf := map[uint64]int64{0: 0}
	for _, w := range log {
		zxidOf[w.val] = w.zxid
	}
	for _, s := range samples {
		for _, w := range log {
			if w.zxid > s.w {
				continue
			}
			got := s.vals[w.key]
			gz, ok := zxidOf[got]
			if !ok {
				t.Fatalf("standby holds value %d for /wm/k%d that the primary never wrote", got, w.key)
			}
			if gz < w.zxid {
				t.Fatalf("watermark 0x%x: /wm/k%d on the standby holds the write of zxid 0x%x, but the primary wrote it again at zxid 0x%x <= watermark",
					s.w, w.key, gz, w.zxid)
			}
		}
	}
	if len(samples) < 5 {
		t.Fatalf("only %d watermark samples were taken", len(samples))
	}
	t.Logf("%d watermark samples checked against %d primary writes", len(samples), len(log))
	p.waitConverged(2 * time.Minute)
}
