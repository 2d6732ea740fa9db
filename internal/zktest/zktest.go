package zktest

import (
	"context"
	"os"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkserver"
)

// Super is the superDigest identity of the servers Start runs.
const Super = "super:secret"

// Start runs a standalone ZooKeeper for the test: Super as its superDigest,
// extended types on, a 200 ms tick (session timeouts from 400 ms, for quick
// expiry tests) and no fsync.
func Start(t zkserver.TB) *zkserver.Cluster {
	t.Helper()
	return zkserver.StartT(t, zkserver.Config{
		SuperDigest:   Super,
		ExtendedTypes: true,
		TickTime:      200 * time.Millisecond,
		JavaProps:     map[string]string{"zookeeper.forceSync": "no"},
		Logger:        hclog.NewNullLogger(),
	})
}

// StartSite runs a standalone ZooKeeper as one site of the site, client,
// failover and daemon tests: a 500 ms tick (sessions of up to 10 s, which
// outlive a move between sites), no superDigest, no fsync.
func StartSite(t zkserver.TB) *zkserver.Cluster {
	t.Helper()
	cfg := zkserver.DefaultConfig()
	cfg.TickTime = 500 * time.Millisecond
	cfg.JavaProps = map[string]string{"zookeeper.forceSync": "no"}
	return zkserver.StartT(t, cfg)
}

// Dial is a plain client session of servers, with no identity, closed in
// t.Cleanup.
func Dial(t zkserver.TB, servers []string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogger(zkconn.NewLogger(hclog.NewNullLogger())))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// Admin is a super-user client of servers, closed in t.Cleanup.
func Admin(t zkserver.TB, servers []string) *zk.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: servers, SessionTimeout: 4 * time.Second, Auth: Super}, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("dial admin: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// Logger writes to the test's log at Info, or at the level ZKDR_TEST_LOG names.
func Logger(t zkserver.TB, name string) hclog.Logger {
	level := hclog.Info
	if l := os.Getenv("ZKDR_TEST_LOG"); l != "" {
		level = hclog.LevelFromString(l)
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: zkserver.TestWriter{T: t}, Level: level})
}
