package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/zktree"
)

// A replicated prefix can land under another prefix on the standby, as etcd
// make-mirror and consul-replicate offer; paths outside the scope stay home.
func TestPrefixMapping(t *testing.T) {
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.Replication.Include = []string{"/app"}
		c.Replication.Mapping = &configs.Mapping{From: "/app", To: "/dr/app"}
	}))
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/app", []byte("a"), 0, nil)
	mustCreate(t, east, "/app/x", []byte("x"), 0, nil)
	mustCreate(t, east, "/other", []byte("not replicated"), 0, nil)
	p.start("east")
	p.start("west")
	mustCreate(t, east, "/app/y", []byte("y"), 0, nil)
	if err := east.Delete("/app/x", -1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var diff []zktree.Difference
	ok := poll(2*time.Minute, func() bool {
		a, err := zktree.Walk(ctx, east, "/app", zktree.Options{})
		if err != nil {
			return false
		}
		b, err := zktree.Walk(ctx, west, "/dr/app", zktree.Options{})
		if err != nil {
			return false
		}
		diff = zktree.Diff(a, b)
		return len(diff) == 0 && len(b) == 2
	})
	if !ok {
		t.Fatalf("/dr/app on west does not equal /app on east: %v", diff)
	}
	for _, path := range []string{"/other", "/app"} {
		if exists, _, _ := west.Exists(path); exists {
			t.Fatalf("%s exists on the standby: the mapping or the scope leaked", path)
		}
	}
}
