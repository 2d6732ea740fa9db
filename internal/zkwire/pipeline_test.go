package zkwire

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkserver"
)

func TestPipelinedGetData(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	c := dialT(t, Config{Servers: zkc.Servers()})
	other := goZK(t, zkc.Servers())
	acl := zk.WorldACL(zk.PermAll)
	const nodes = 50
	for i := range nodes {
		if _, err := other.Create(fmt.Sprintf("/n%d", i), []byte(fmt.Sprint(i)), 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	// A writer in parallel makes the zxids move while the reads are in flight.
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := other.Set(fmt.Sprintf("/n%d", i%nodes), []byte(fmt.Sprint(i)), -1); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	const n = 20000
	calls := make([]*Call[Data], n)
	for i := range calls {
		calls[i] = c.GetData(fmt.Sprintf("/n%d", i%nodes))
	}
	var last int64
	for i, call := range calls {
		d := must(t, call)
		if d.Stat.Mzxid == 0 {
			t.Fatalf("call %d: empty stat", i)
		}
		if z := call.Zxid(); z < last {
			t.Fatalf("call %d: reply zxid %d after %d", i, z, last)
		} else {
			last = z
		}
	}
	close(stop)
	if err := <-writerDone; err != nil && !errors.Is(err, zk.ErrClosing) {
		t.Fatal(err)
	}
}

func TestMultiRead(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	c := dialT(t, Config{Servers: zkc.Servers()})
	acl := zk.WorldACL(zk.PermAll)
	must(t, c.Create("/m", []byte("root"), 0, acl))
	must(t, c.Create("/m/x", []byte("xx"), 0, acl))
	must(t, c.Create("/m/y", nil, 0, acl))
	must(t, c.Create("/secret", []byte("s"), 0, zk.DigestACL(zk.PermAll, "bob", "pw")))
	res := must(t, c.MultiRead([]ReadOp{
		{Path: "/m/x"},
		{Path: "/m", Children: true},
		{Path: "/missing"},
		{Path: "/missing", Children: true},
		{Path: "/secret"},
		{Path: "/m"},
	}))
	if len(res) != 6 {
		t.Fatalf("%d results", len(res))
	}
	x := must(t, c.GetData("/m/x"))
	if res[0].Err != nil || string(res[0].Data) != "xx" || res[0].Stat != x.Stat {
		t.Fatalf("getData /m/x: %+v, want %+v", res[0], x)
	}
	if res[1].Err != nil || !sameSet(res[1].Children, []string{"x", "y"}) {
		t.Fatalf("getChildren /m: %+v", res[1])
	}
	if !errors.Is(res[2].Err, zk.ErrNoNode) || !errors.Is(res[3].Err, zk.ErrNoNode) {
		t.Fatalf("missing: %v, %v", res[2].Err, res[3].Err)
	}
	if !errors.Is(res[4].Err, zk.ErrNoAuth) {
		t.Fatalf("no auth: %v", res[4].Err)
	}
	if res[5].Err != nil || string(res[5].Data) != "root" {
		t.Fatalf("getData /m: %+v", res[5])
	}
	empty := must(t, c.MultiRead(nil))
	if len(empty) != 0 {
		t.Fatalf("empty multiRead: %+v", empty)
	}
}
