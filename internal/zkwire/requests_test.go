package zkwire

import (
	"errors"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkserver"
)

func TestRequests(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	c := dialT(t, Config{Servers: zkc.Servers()})
	other := goZK(t, zkc.Servers())
	acl := zk.WorldACL(zk.PermAll)

	t.Run("create and get data", func(t *testing.T) {
		p := must(t, c.Create("/r", []byte("hello"), 0, acl))
		if p != "/r" {
			t.Fatalf("created %q", p)
		}
		got := must(t, c.GetData("/r"))
		data, stat, err := other.Get("/r")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data) != "hello" || string(data) != "hello" {
			t.Fatalf("data %q, go-zookeeper %q", got.Data, data)
		}
		if got.Stat != *stat {
			t.Fatalf("stat %+v, go-zookeeper %+v", got.Stat, *stat)
		}
	})
	t.Run("sequential create", func(t *testing.T) {
		p := must(t, c.Create("/r/seq-", nil, zk.FlagSequence, acl))
		if p != "/r/seq-0000000000" {
			t.Fatalf("created %q", p)
		}
	})
	t.Run("create existing", func(t *testing.T) {
		if _, err := wait(t, c.Create("/r", nil, 0, acl)); !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("err %v, want zk.ErrNodeExists", err)
		}
	})
	t.Run("exists", func(t *testing.T) {
		st := must(t, c.Exists("/r"))
		_, want, err := other.Exists("/r")
		if err != nil {
			t.Fatal(err)
		}
		if st != *want {
			t.Fatalf("stat %+v, go-zookeeper %+v", st, *want)
		}
		if _, err := wait(t, c.Exists("/missing")); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("exists missing: %v", err)
		}
	})
	t.Run("set data", func(t *testing.T) {
		st := must(t, c.SetData("/r", []byte("v2"), 0))
		if st.Version != 1 {
			t.Fatalf("version %d", st.Version)
		}
		if _, err := wait(t, c.SetData("/r", []byte("v3"), 0)); !errors.Is(err, zk.ErrBadVersion) {
			t.Fatalf("err %v, want zk.ErrBadVersion", err)
		}
		data, stat, err := other.Get("/r")
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != "v2" || *stat != st {
			t.Fatalf("go-zookeeper reads %q %+v, set returned %+v", data, *stat, st)
		}
	})
	t.Run("children", func(t *testing.T) {
		for _, n := range []string{"a", "b"} {
			if _, err := other.Create("/r/"+n, nil, 0, acl); err != nil {
				t.Fatal(err)
			}
		}
		ch := must(t, c.Children("/r"))
		names, stat, err := other.Children("/r")
		if err != nil {
			t.Fatal(err)
		}
		if !sameSet(ch.Names, names) || len(names) != 3 {
			t.Fatalf("children %v, go-zookeeper %v", ch.Names, names)
		}
		if ch.Stat != *stat {
			t.Fatalf("stat %+v, go-zookeeper %+v", ch.Stat, *stat)
		}
	})
	t.Run("missing node", func(t *testing.T) {
		if _, err := wait(t, c.GetData("/missing")); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("get data: %v", err)
		}
		if _, err := wait(t, c.Children("/missing")); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("children: %v", err)
		}
		if _, err := wait(t, c.GetACL("/missing")); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("get acl: %v", err)
		}
		if _, err := wait(t, c.SetData("/missing", nil, -1)); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("set data: %v", err)
		}
	})
	t.Run("acl with digest identity", func(t *testing.T) {
		// getACL needs READ or ADMIN: world keeps READ so this unauthenticated
		// session can read the digest entry.
		acl := append(zk.DigestACL(zk.PermAll, "alice", "pw"), zk.WorldACL(zk.PermRead)...)
		must(t, c.Create("/acl", []byte("x"), 0, acl))
		got := must(t, c.GetACL("/acl"))
		acls, stat, err := other.GetACL("/acl")
		if err != nil {
			t.Fatal(err)
		}
		// ZooKeeper 3.8 shows a digest's hash only to sessions with ADMIN on
		// the node; others read "user:x".
		masked := zk.ACL{Perms: zk.PermAll, Scheme: "digest", ID: "alice:x"}
		if len(got.ACL) != 2 || got.ACL[0] != acls[0] || got.ACL[1] != acls[1] || got.ACL[0] != masked || got.ACL[1] != acl[1] {
			t.Fatalf("acl %+v, go-zookeeper %+v, set %+v", got.ACL, acls, acl)
		}
		if got.Stat != *stat {
			t.Fatalf("stat %+v, go-zookeeper %+v", got.Stat, *stat)
		}
		if _, err := wait(t, c.SetData("/acl", nil, -1)); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("set data without auth: %v", err)
		}
	})
	t.Run("sync", func(t *testing.T) {
		if p := must(t, c.Sync("/r")); p != "/r" {
			t.Fatalf("sync returned %q", p)
		}
	})
	t.Run("empty and null data", func(t *testing.T) {
		must(t, c.Create("/empty", []byte{}, 0, acl))
		got := must(t, c.GetData("/empty"))
		if len(got.Data) != 0 || got.Stat.DataLength != 0 {
			t.Fatalf("data %q stat %+v", got.Data, got.Stat)
		}
	})
	t.Run("zxids", func(t *testing.T) {
		call := c.SetData("/r", []byte("v4"), -1)
		st := must(t, call)
		if call.Zxid() != st.Mzxid {
			t.Fatalf("reply zxid %d, mzxid %d", call.Zxid(), st.Mzxid)
		}
		if c.LastZxid() < st.Mzxid {
			t.Fatalf("last zxid %d < %d", c.LastZxid(), st.Mzxid)
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
		if m[s] < 0 {
			return false
		}
	}
	return true
}
