package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/replicator/applier"
)

func TestAntiEntropyReportPathList(t *testing.T) {
	r := AntiEntropyReport{Divergent: 3, Paths: []AntiEntropyNode{{Path: "/a", What: "data"}, {Path: "/b", What: "acl"}}}
	if got, want := r.PathList(), "/a (data), /b (acl), ... (1 more)"; got != want {
		t.Fatalf("PathList = %q, want %q", got, want)
	}
	for what, want := range map[string]string{
		"missing on target": "missing", "extra on target": "extra", "data (1 bytes vs 7)": "data",
		"acl ([{31 digest user:hash}] vs [])": "acl", "mode (persistent vs ephemeral)": "mode",
	} {
		if got := diffKind(what); got != want {
			t.Errorf("diffKind(%q) = %q, want %q", what, got, want)
		}
	}
}

// aeSites is an active and a standby ensemble with a stand-in for the
// replication's watermark: on every tick it changes /app/hot on the active
// site, writes the heartbeat, and records that heartbeat as the standby's
// watermark. The trees themselves are written by the test.
type aeSites struct {
	act, stb *zk.Conn
	cfg      AntiEntropyConfig
	stop     func()
}

func startAESites(t *testing.T) *aeSites {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	t.Helper()
	a, s := zktest.StartSite(t), zktest.StartSite(t)
	act, stb := zktest.Dial(t, a.Servers()), zktest.Dial(t, s.Servers())
	for _, c := range []*zk.Conn{act, stb} {
		for _, p := range []string{"/zkdr", "/zkdr/heartbeat", zkpath.Checkpoint} {
			if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatal(err)
			}
		}
	}
	cfg := DefaultAntiEntropyConfig()
	cfg.Site, cfg.Peer = "west", "east"
	cfg.Interval, cfg.ReadsPerSecond, cfg.WaitTimeout = time.Hour, 1000, 30*time.Second
	cfg.Active = zkconn.Config{Servers: a.Servers(), SessionTimeout: 10 * time.Second}
	cfg.Standby = zkconn.Config{Servers: s.Servers(), SessionTimeout: 10 * time.Second}
	cfg.Logger = zktest.Logger(t, "anti-entropy")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(30 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// The hot node changes before each heartbeat, so between a first
			// read and the re-read after the next heartbeat it always moved.
			if _, err := act.Set("/app/hot", []byte{byte(n)}, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				continue
			}
			st, err := act.Set("/zkdr/heartbeat", []byte(time.Now().String()), -1)
			if err != nil {
				continue
			}
			cp, _ := json.Marshal(applier.Checkpoint{Stream: "ZKDR_east", WatermarkZxid: st.Mzxid, WatermarkTime: time.Now().UnixNano()})
			_, _ = stb.Set(zkpath.Checkpoint, cp, -1)
		}
	}()
	stop := sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(stop)
	return &aeSites{act: act, stb: stb, cfg: cfg, stop: stop}
}

func mk(t *testing.T, c *zk.Conn, p, data string, flags int32, acl []zk.ACL) {
	t.Helper()
	if acl == nil {
		acl = zk.WorldACL(zk.PermAll)
	}
	if _, err := c.Create(p, []byte(data), flags, acl); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
}

// A pass reports each kind of difference the journal cannot show, under the
// prefix mapping and the scope, and leaves out what is not replicated and
// what was changing on the active site.
func TestAntiEntropyPassFindsDivergence(t *testing.T) {
	s := startAESites(t)
	s.cfg.Scope = zkpath.Scope{Include: []string{"/app"}, Exclude: []string{"/app/skip"}}
	s.cfg.Mapping = []zkpath.PathMap{{From: "/app", To: "/dr/app"}}
	mk(t, s.stb, "/dr", "", 0, nil)
	readOnly := zk.WorldACL(zk.PermRead)
	for _, side := range []struct {
		c    *zk.Conn
		root string
	}{{s.act, "/app"}, {s.stb, "/dr/app"}} {
		mk(t, side.c, side.root, "root", 0, nil)
		for _, n := range []string{"a", "b", "c", "d", "hot", "skip", "sub"} {
			mk(t, side.c, side.root+"/"+n, n, 0, nil)
		}
		mk(t, side.c, side.root+"/sub/x", "x", 0, nil)
	}
	// Not replicated: excluded, out of scope, a session's ephemeral.
	mk(t, s.act, "/app/skip/only-east", "", 0, nil)
	mk(t, s.stb, "/dr/app/skip/only-west", "", 0, nil)
	mk(t, s.act, "/other", "", 0, nil)
	mk(t, s.act, "/app/eph", "", zk.FlagEphemeral, nil)
	// Divergence.
	mustDo(t, func() error { _, err := s.stb.Set("/dr/app/a", []byte("written on the standby"), -1); return err })
	mustDo(t, func() error { _, err := s.act.SetACL("/app/b", readOnly, -1); return err })
	mustDo(t, func() error { return s.stb.Delete("/dr/app/c", -1) })
	mk(t, s.stb, "/dr/app/sub/extra", "", 0, nil)
	mk(t, s.stb, "/dr/app/new", "", 0, nil)
	mk(t, s.stb, "/dr/app/new/child", "", 0, nil)
	mustDo(t, func() error { _, err := s.stb.Set("/dr/app/hot", []byte("stale"), -1); return err })

	a, err := NewAntiEntropy(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Pass(context.Background(), s.stb)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range rep.Paths {
		got[n.Path] = n.What
		if n.StandbyPath != "/dr"+n.Path {
			t.Errorf("%s: standby path %q, want the mapped %q", n.Path, n.StandbyPath, "/dr"+n.Path)
		}
	}
	want := map[string]string{
		"/app/a": "data", "/app/b": "acl", "/app/c": "missing", "/app/sub/extra": "extra",
		"/app/new": "extra", "/app/new/child": "extra",
	}
	if rep.Divergent != len(want) || len(got) != len(want) {
		t.Errorf("divergent %d: %v; want %v", rep.Divergent, got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %q, want %q", p, got[p], w)
		}
	}
	if rep.Unsettled < 1 {
		t.Errorf("the hot node was changing: want it unsettled, report %+v", rep)
	}
	// Compared: /app and its 8 replicated nodes below, and the 3 only on the standby.
	if rep.NodesCompared != 11 {
		t.Errorf("nodes compared %d, want 11", rep.NodesCompared)
	}
	t.Logf("report: %+v", rep)
}

// Equal trees compare equal, and a pass whose watermark cannot pass the
// active site's heartbeat fails instead of guessing.
func TestAntiEntropyPassEqualThenStalled(t *testing.T) {
	s := startAESites(t)
	s.cfg.Scope = zkpath.Scope{}
	for _, c := range []*zk.Conn{s.act, s.stb} {
		mk(t, c, "/app", "", 0, nil)
		mk(t, c, "/app/hot", "", 0, nil)
		mk(t, c, "/etc", "e", 0, zk.DigestACL(zk.PermAll, "user", "secret"))
	}
	a, err := NewAntiEntropy(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Pass(context.Background(), s.stb)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Divergent != 0 {
		t.Fatalf("equal trees: %+v", rep)
	}
	s.stop()
	s.cfg.WaitTimeout = time.Second
	a, err = NewAntiEntropy(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Pass(context.Background(), s.stb); err == nil || !strings.Contains(err.Error(), "heartbeat") {
		t.Fatalf("pass without heartbeats: %v, want an error about the heartbeat", err)
	}
}

// Status survives in the standby, and secrets stay out of it.
func TestAntiEntropyStoreAndRead(t *testing.T) {
	s := startAESites(t)
	s.cfg.Standby.Auth = "super:do-not-print"
	a, err := NewAntiEntropy(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.st.Passes = 2
	a.st.Last = &AntiEntropyReport{Started: time.Now(), Finished: time.Now(), NodesCompared: 5, Divergent: 1,
		Paths: []AntiEntropyNode{{Path: "/x", What: "acl"}}}
	a.store(context.Background(), s.stb)
	st, ok, err := ReadAntiEntropy(context.Background(), s.stb)
	if err != nil || !ok {
		t.Fatalf("read: %v %v", ok, err)
	}
	if st.Last == nil || st.Last.Divergent != 1 || st.Last.Paths[0].Path != "/x" || st.Passes != 2 {
		t.Fatalf("read back %+v", st)
	}
	data, _, _ := s.stb.Get(AntiEntropyPath)
	if strings.Contains(string(data), "do-not-print") {
		t.Fatal("the status holds a credential")
	}
	keys := []string{}
	var raw map[string]any
	_ = json.Unmarshal(data, &raw)
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("stored keys: %v", keys)
}

func mustDo(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}
