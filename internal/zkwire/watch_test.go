package zkwire

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zkserver"
)

// change is one write made by go-zookeeper and the notification it must cause.
type change struct {
	typ  zk.EventType
	path string
}

func TestRecursiveWatchOrder(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	var rec recorder
	c := dialT(t, Config{Servers: zkc.Servers(), OnEvent: rec.on})
	other := goZK(t, zkc.Servers())
	acl := zk.WorldACL(zk.PermAll)
	if _, err := other.Create("/a", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create("/outside", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	must(t, c.AddWatch("/a", true))

	// 1000 changes: deep creates, data changes and deletes, interleaved with
	// writes outside the watched root that must not show up.
	var want []change
	do := func(typ zk.EventType, path string) {
		var err error
		switch typ {
		case zk.EventNodeCreated:
			_, err = other.Create(path, []byte("x"), 0, acl)
		case zk.EventNodeDataChanged:
			_, err = other.Set(path, []byte("y"), -1)
		case zk.EventNodeDeleted:
			err = other.Delete(path, -1)
		}
		if err != nil {
			t.Fatalf("%v %s: %v", typ, path, err)
		}
		want = append(want, change{typ, path})
	}
	for i := 0; len(want) < 1000; i++ {
		p := fmt.Sprintf("/a/b%d", i%7)
		if i < 7 {
			do(zk.EventNodeCreated, p)
		}
		deep := fmt.Sprintf("%s/c%d", p, i)
		do(zk.EventNodeCreated, deep)
		do(zk.EventNodeCreated, deep+"/d")
		do(zk.EventNodeDataChanged, deep+"/d")
		do(zk.EventNodeDataChanged, p)
		do(zk.EventNodeDeleted, deep+"/d")
		if _, err := other.Set("/outside", []byte("z"), -1); err != nil {
			t.Fatal(err)
		}
	}
	eventually.True(t, 60*time.Second, "1000 notifications", func() bool { return len(rec.notifications()) >= len(want) })
	// The write after the last watched one is outside: a sync round trip makes
	// sure nothing more is on its way.
	must(t, c.Sync("/a"))
	got := rec.notifications()
	if len(got) != len(want) {
		t.Fatalf("%d notifications, want %d", len(got), len(want))
	}
	for i, ev := range got {
		if ev.Type != want[i].typ || ev.Path != want[i].path {
			t.Fatalf("notification %d is %v %s, want %v %s", i, ev.Type, ev.Path, want[i].typ, want[i].path)
		}
		if ev.Type == zk.EventNodeChildrenChanged {
			t.Fatalf("recursive watch delivered NodeChildrenChanged for %s", ev.Path)
		}
	}
}

func TestPersistentWatchNotRecursive(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	var rec recorder
	c := dialT(t, Config{Servers: zkc.Servers(), OnEvent: rec.on})
	acl := zk.WorldACL(zk.PermAll)
	must(t, c.Create("/p", nil, 0, acl))
	must(t, c.AddWatch("/p", false))
	must(t, c.Create("/p/child", nil, 0, acl))
	must(t, c.Create("/p/child/deep", nil, 0, acl))
	must(t, c.SetData("/p", []byte("1"), -1))
	must(t, c.SetData("/p", []byte("2"), -1))
	// Notifications precede the replies of the requests after the change.
	got := rec.notifications()
	want := []change{{zk.EventNodeChildrenChanged, "/p"}, {zk.EventNodeDataChanged, "/p"}, {zk.EventNodeDataChanged, "/p"}}
	if len(got) != len(want) {
		t.Fatalf("notifications %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Type != want[i].typ || got[i].Path != want[i].path {
			t.Fatalf("notification %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
