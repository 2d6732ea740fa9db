package failover

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkserver"
)

// testLogger sends hclog output to t.Log.
func testLogger(t testing.TB, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   name,
		Level:  hclog.Debug,
		Output: tWriter{t},
	})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startZK runs one standalone ZooKeeper server (one site) until the test ends.
func startZK(t testing.TB) *zkserver.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	cfg := zkserver.DefaultConfig()
	cfg.TickTime = 500 * time.Millisecond
	cfg.JavaProps = map[string]string{"zookeeper.forceSync": "no"}
	cfg.Logger = testLogger(t, "zkserver")
	c, err := zkserver.Start(cfg)
	if err != nil {
		t.Fatalf("start zookeeper: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialZK opens a plain session to one ensemble, closed when the test ends.
func dialZK(t testing.TB, c *zkserver.Cluster) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(c.Servers(), 10*time.Second, zk.WithLogger(zkconn.NewLogger(hclog.NewNullLogger())))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fakeConn is a net.Conn that does nothing; embed it and override what a test needs.
type fakeConn struct{ net.Conn }
