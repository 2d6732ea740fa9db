package workload

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktree"
)

// startZK starts a real standalone ZooKeeper for one test.
func startZK(t *testing.T) *zkserver.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	return zkserver.StartT(t, zkserver.Config{JavaProps: map[string]string{"zookeeper.forceSync": "no"}})
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "workload", Output: zkserver.TestWriter{T: t}, Level: hclog.Info})
}

// newWorkload builds a workload on zks under /app, closed at the end of the
// test; tune adjusts its config first.
func newWorkload(t *testing.T, zks *zkserver.Cluster, tune func(*Config)) *Workload {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Servers = zks.Servers()
	cfg.Prefix = "/app"
	cfg.Logger = testLogger(t)
	if tune != nil {
		tune(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// connect opens a session of the test's own, to look at the tree.
func connect(t *testing.T, zks *zkserver.Cluster) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(zks.Servers(), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkconn.NewLogger(testLogger(t))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	eventually.True(t, 30*time.Second, "a zookeeper session", func() bool { return conn.State() == zk.StateHasSession })
	return conn
}

// walk reads the tree under root, ephemerals too when withEphemeral.
func walk(t *testing.T, conn *zk.Conn, root string, withEphemeral bool) zktree.Tree {
	t.Helper()
	tr, err := zktree.Walk(context.Background(), conn, root, zktree.Options{KeepEphemeral: withEphemeral})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return tr
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func rand1(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
}
