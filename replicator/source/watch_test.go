package source

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktest"
)

// A server whose watch manager cannot hold persistent watches stands in for
// ZooKeeper before 3.6 (which answers addWatch with UNIMPLEMENTED): "recursive"
// refuses to start, naming the server, and "auto" replicates on one-shot
// watches.
func TestSourceWithoutRecursiveWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("real ZooKeeper")
	}
	zks := zkserver.StartT(t, zkserver.Config{Servers: 1, SuperDigest: zktest.Super,
		JavaProps: map[string]string{"zookeeper.watchManagerName": "org.apache.zookeeper.server.watch.WatchManagerOptimized"}})
	admin := zktest.Admin(t, zks.Servers())
	mustCreate(t, admin, "/app", []byte("a"))
	mustCreate(t, admin, "/app/x", []byte("x"))

	t.Run("recursive refuses", func(t *testing.T) {
		cfg := testSourceConfig(t, zks.Servers())
		cfg.Watch = WatchRecursive
		src, err := New(cfg, &fakePub{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err = src.Run(ctx)
		if !errors.Is(err, ErrNoRecursiveWatch) {
			t.Fatalf("run: %v, want ErrNoRecursiveWatch", err)
		}
		if !strings.Contains(err.Error(), zks.Servers()[0]) || !strings.Contains(err.Error(), "3.6") {
			t.Errorf("error %q does not name the server and what is needed", err)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the credentials: %q", err)
		}
	})
	t.Run("auto falls back", func(t *testing.T) {
		pub := &fakePub{}
		cfg := testSourceConfig(t, zks.Servers())
		src := runSource(t, cfg, pub)
		sourceWaitFor(t, 60*time.Second, "bootstrap", func() bool { return src.Stats().Bootstrapped })
		if got := src.Stats().Watch; got != WatchOneShot {
			t.Fatalf("source watches with %q, want %q", got, WatchOneShot)
		}
		if _, err := admin.Set("/app/x", []byte("y"), -1); err != nil {
			t.Fatal(err)
		}
		sourceWaitFor(t, 60*time.Second, "the change replicated", func() bool {
			m := newModel()
			replayInto(m, pub.snapshot()...)
			return string(m.nodes["/app/x"].Data) == "y"
		})
	})
}
