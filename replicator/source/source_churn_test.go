package source

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
)

// churn runs creates, sets, child creates, recursive deletes, delete+re-create
// and ACL changes on a small key space from several writers until ctx ends:
// the same paths die and come back many times a second.
func churn(ctx context.Context, c *zk.Conn, root string, writers int, seed int64) {
	var wg sync.WaitGroup
	open := zk.WorldACL(zk.PermAll)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed + int64(w)))
			base := fmt.Sprintf("%s/w%d", root, w)
			_, _ = c.Create(base, nil, 0, open)
			for n := 0; ctx.Err() == nil; n++ {
				p := fmt.Sprintf("%s/k%d", base, r.Intn(20))
				switch r.Intn(8) {
				case 0, 1:
					_, _ = c.Create(p, []byte(strconv.Itoa(n)), 0, open)
				case 2, 3:
					_, _ = c.Set(p, []byte(strconv.Itoa(n)), -1)
				case 4:
					_, _ = c.Create(p+"/sub", []byte("s"), 0, open)
				case 5:
					_ = c.Delete(p+"/sub", -1)
					_ = c.Delete(p, -1)
				case 6:
					if c.Delete(p, -1) == nil {
						_, _ = c.Create(p, []byte("again"), 0, open)
					}
				case 7:
					_, _ = c.SetACL(p, zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermCreate|zk.PermDelete|zk.PermAdmin), -1)
				}
			}
		}(w)
	}
	wg.Wait()
}

// TestSourceWalkDuringChurn starts sources while writers keep deleting and
// re-creating the same few paths, as a source restarted during a workload does,
// and checks that each one's replay converges on the tree once writes stop: a
// node first seen outside the walk must have its watches armed.
func TestSourceWalkDuringChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zktest.Start(t)
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/churn", nil)
	rounds := 10
	for round := 0; round < rounds; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			writers := zktest.Admin(t, zks.Servers())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); churn(ctx, writers, "/churn", 3, int64(round*10)) }()
			time.Sleep(300 * time.Millisecond) // the walk meets the workload; correctness does not depend on it

			pub := &fakePub{delay: time.Duration(round%4) * time.Millisecond}
			cfg := testSourceConfig(t, zks.Servers())
			cfg.ACLRecheckInterval = time.Hour // only watches may find the changes
			srcCtx, stop := context.WithCancel(context.Background())
			src, err := New(cfg, pub)
			if err != nil {
				t.Fatal(err)
			}
			runErr := make(chan error, 1)
			go func() { runErr <- src.Run(srcCtx) }()
			sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })
			time.Sleep(time.Second)
			cancel()
			<-done

			want := readTree(t, admin)
			delete(want, "/zkdr")
			delete(want, zkpath.Heartbeat)
			for p := range want {
				if !zkpath.Under(p, "/churn") && p != "/" {
					delete(want, p)
				}
			}
			var last []string
			deadline := time.Now().Add(30 * time.Second)
			for {
				m := newModel()
				replayInto(m, pub.snapshot()...)
				if last = diffTrees(want, m.nodes); len(last) == 0 {
					break
				}
				if time.Now().After(deadline) {
					for _, d := range last {
						p, _, _ := strings.Cut(d, ":")
						for _, ev := range pub.snapshot() {
							if ev.Path == p || zkpath.Under(p, ev.Path) && ev.Path != "/" && len(ev.Path) > len("/churn/w0") {
								t.Logf("%s %s data %q czxid %#x mzxid %#x zxid %#x", ev.Kind, ev.Path, ev.Data, ev.Stat.Czxid, ev.Stat.Mzxid, ev.Zxid)
							}
						}
						if _, st, err := admin.Get(p); err == nil {
							t.Logf("primary %s: czxid %#x mzxid %#x", p, st.Czxid, st.Mzxid)
						}
					}
					t.Fatalf("replay never matched the primary:\n%s", strings.Join(last, "\n"))
				}
				time.Sleep(100 * time.Millisecond)
			}
			if p := orderViolation(pub.snapshot()); p != "" {
				for i, ev := range pub.snapshot() {
					if ev.Path != "" && ev.Path != "/" && (zkpath.Under(p, ev.Path) && len(ev.Path) > len("/churn/w0") || ev.Kind == journal.KindSnapshotBegin || ev.Kind == journal.KindSnapshotEnd) {
						t.Logf("#%d %s %s data %q czxid %#x mzxid %#x pzxid %#x zxid %#x", i, ev.Kind, ev.Path, ev.Data, ev.Stat.Czxid, ev.Stat.Mzxid, ev.Stat.Pzxid, ev.Zxid)
					}
				}
				t.Fatalf("%s went back to an older state", p)
			}
			stop()
			if err := <-runErr; err != nil {
				t.Errorf("source run: %v", err)
			}
		})
	}
}

// orderViolation returns a path whose published state went back (an older
// incarnation or an older write of the same one after a newer), or "".
func orderViolation(evs []journal.Event) string {
	type inc struct{ czxid, mzxid int64 }
	last := map[string]inc{}
	for _, ev := range evs {
		switch ev.Kind {
		case journal.KindCreate, journal.KindUpdate, journal.KindSnapshotNode:
			l, ok := last[ev.Path]
			if ok && (ev.Stat.Czxid < l.czxid || l.czxid == ev.Stat.Czxid && ev.Stat.Mzxid < l.mzxid) {
				return ev.Path
			}
			last[ev.Path] = inc{ev.Stat.Czxid, ev.Stat.Mzxid}
		}
	}
	return ""
}
