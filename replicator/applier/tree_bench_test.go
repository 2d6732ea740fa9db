package applier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
)

// BenchmarkIndexStandby times the cold start's index walk of a standby of
// 200 parents × 100 children under /b, by reads in flight.
func BenchmarkIndexStandby(b *testing.B) {
	zkc := zktest.Start(b)
	conn := zktest.Admin(b, zkc.Servers())
	if _, err := conn.Create("/b", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		ops := []any{&zk.CreateRequest{Path: fmt.Sprintf("/b/p%03d", i), Acl: zk.WorldACL(zk.PermAll)}}
		for j := range 100 {
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("/b/p%03d/c%03d", i, j), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)})
		}
		if _, err := conn.Multi(ops...); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	rp, err := zkconn.DialReadPool(ctx, conn, 3, zkconn.Config{Servers: zkc.Servers(), SessionTimeout: 10 * time.Second, Auth: zktest.Super}, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer rp.Close()
	m := zkpath.Mapper{Scope: zkpath.Scope{Include: []string{"/b"}}}
	for _, inFlight := range []int{32, 128, 512} {
		b.Run(fmt.Sprintf("in-flight-%d", inFlight), func(b *testing.B) {
			for b.Loop() {
				tree := newStandbyTree(m)
				if err := tree.load(ctx, rp, inFlight); err != nil {
					b.Fatal(err)
				}
				if tree.count < 20_000 {
					b.Fatalf("indexed %d nodes", tree.count)
				}
			}
			b.ReportMetric(float64(20_201*b.N)/b.Elapsed().Seconds(), "znodes/s")
		})
	}
}
