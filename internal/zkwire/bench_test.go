package zkwire

import (
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkserver"
)

// BenchmarkGetDataPipelined keeps 1000 getData calls in flight from one
// goroutine, the source's pattern; the server is usually the limit.
func BenchmarkGetDataPipelined(b *testing.B) {
	if testing.Short() {
		b.Skip("starts ZooKeeper")
	}
	zkc := zkserver.StartT(b, zkserver.Config{Servers: 1, JavaProps: fastSync})
	cfg := DefaultConfig()
	cfg.Servers = zkc.Servers()
	c, err := Dial(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/bench", make([]byte, 100), 0, zk.WorldACL(zk.PermAll)).Wait(b.Context()); err != nil {
		b.Fatal(err)
	}
	const window = 1000
	ring := make([]*Call[Data], window)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if old := ring[i%window]; old != nil {
			if _, err := old.Wait(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		ring[i%window] = c.GetData("/bench")
	}
	for _, call := range ring {
		if call != nil {
			if _, err := call.Wait(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	}
}
