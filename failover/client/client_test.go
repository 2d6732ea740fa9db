package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktest"
)

// pair is two standalone servers standing for two sites, with records and admin
// sessions.
type pair struct {
	east, west         *zkserver.Cluster
	eastConn, westConn *zk.Conn
	sites              []Site
}

func startPair(t *testing.T) *pair {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	t.Helper()
	p := &pair{east: zktest.StartSite(t), west: zktest.StartSite(t)}
	p.eastConn, p.westConn = zktest.Dial(t, p.east.Servers()), zktest.Dial(t, p.west.Servers())
	p.sites = []Site{{Name: "east", Servers: p.east.Servers()}, {Name: "west", Servers: p.west.Servers()}}
	ctx := context.Background()
	if _, _, err := site.EnsureRecord(ctx, p.eastConn, "east", site.RoleActive); err != nil {
		t.Fatal(err)
	}
	if _, _, err := site.EnsureRecord(ctx, p.westConn, "west", site.RoleStandby); err != nil {
		t.Fatal(err)
	}
	return p
}

// flip fences east and then makes west active at the next epoch, as a
// switchover does.
func (p *pair) flip(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	e, ev, err := site.ReadRecord(ctx, p.eastConn)
	if err != nil {
		t.Fatal(err)
	}
	w, wv, err := site.ReadRecord(ctx, p.westConn)
	if err != nil {
		t.Fatal(err)
	}
	e.Role, e.Since, e.ChangedBy, e.Reason = site.RoleFenced, time.Time{}, "test", "switchover"
	if _, _, err := site.WriteRecord(ctx, p.eastConn, e, ev); err != nil {
		t.Fatal(err)
	}
	w.Role, w.Epoch, w.Since, w.ChangedBy, w.Reason = site.RoleActive, site.NextEpoch(e, w), time.Time{}, "test", "switchover"
	if _, _, err := site.WriteRecord(ctx, p.westConn, w, wv); err != nil {
		t.Fatal(err)
	}
}

// lastZxid is the highest zxid the ensemble has committed, as seen in the mzxid
// of a node written now.
func lastZxid(t *testing.T, conn *zk.Conn) int64 {
	t.Helper()
	p := "/zxid-probe"
	if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
	st, err := conn.Set(p, []byte("x"), -1)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mzxid
}

// sessionLog records which servers gave the client a session.
type sessionLog struct {
	mu       sync.Mutex
	sessions []string // server of each StateHasSession
	expired  int
}

func (l *sessionLog) callback(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev.State {
	case zk.StateHasSession:
		l.sessions = append(l.sessions, ev.Server)
	case zk.StateExpired:
		l.expired++
	}
}

func (l *sessionLog) sessionOn(servers []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.sessions, func(s string) bool { return slices.Contains(servers, s) })
}

func TestClientMovesToNewActiveSite(t *testing.T) {
	p := startPair(t)
	var sl sessionLog
	cfg := DefaultClientConfig()
	cfg.Sites = p.sites
	cfg.SessionTimeout = 6 * time.Second
	cfg.Logger = zktest.Logger(t, "client")
	cfg.Options = []func(*zk.Conn){zk.WithEventCallback(sl.callback)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client, events, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var expiredSeen atomic.Bool
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		for ev := range events {
			if ev.State == zk.StateExpired {
				expiredSeen.Store(true)
			}
		}
	}()

	eventually.True(t, 60*time.Second, "a session on east", func() bool { return sl.sessionOn(p.east.Servers()) })
	acl := zk.WorldACL(zk.PermAll)
	if _, err := client.Create("/app", []byte("0"), 0, acl); err != nil {
		t.Fatalf("write on east: %v", err)
	}
	// Push east's zxid, and with it the client's last seen zxid, far above
	// west's, so that a plain reconnect to west would be refused.
	for i := range 300 {
		if _, err := client.Set("/app", fmt.Appendf(nil, "%d", i), -1); err != nil {
			t.Fatalf("write %d on east: %v", i, err)
		}
	}
	eastZxid, westZxid := lastZxid(t, p.eastConn), lastZxid(t, p.westConn)
	if eastZxid <= westZxid+100 {
		t.Fatalf("east zxid %#x is not well above west's %#x", eastZxid, westZxid)
	}
	t.Logf("east zxid %#x, west zxid %#x", eastZxid, westZxid)

	p.flip(t)
	eventually.True(t, 60*time.Second, "a session on west", func() bool { return sl.sessionOn(p.west.Servers()) })

	// The client's writes now land on west.
	var created string
	eventually.True(t, 30*time.Second, "a write through the moved client", func() bool {
		created, err = client.Create("/after-move", []byte("west"), 0, acl)
		if err != nil {
			t.Logf("write after move: %v", err)
		}
		return err == nil || errors.Is(err, zk.ErrNodeExists)
	})
	data, _, err := p.westConn.Get("/after-move")
	if err != nil || string(data) != "west" {
		t.Fatalf("on west: %q, %v; want the client's write (created %q)", data, err, created)
	}
	if ok, _, err := p.eastConn.Exists("/after-move"); err != nil || ok {
		t.Fatalf("on east: exists=%v err=%v; want the write only on west", ok, err)
	}
	if _, err := client.Set("/after-move", []byte("again"), -1); err != nil {
		t.Fatalf("second write on west: %v", err)
	}
	if data, _, _ := p.westConn.Get("/after-move"); string(data) != "again" {
		t.Fatalf("second write not on west: %q", data)
	}
	eventually.True(t, 10*time.Second, "StateExpired on the event channel", expiredSeen.Load)

	client.Close()
	select {
	case <-eventsDone:
	case <-time.After(30 * time.Second):
		t.Fatal("event channel not closed after Close")
	}
}

// TestZxidRefusalWithoutFreshSession shows why the provider rewrites the connect
// request: without it, a client that saw east's high zxids never gets a session
// on west, and the server says why.
func TestZxidRefusalWithoutFreshSession(t *testing.T) {
	p := startPair(t)
	mcfg := DefaultMonitorConfig()
	mcfg.Sites = p.sites
	mcfg.Logger = zktest.Logger(t, "monitor")
	mon, err := NewMonitor(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	monDone := make(chan error, 1)
	go func() { monDone <- mon.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-monDone; err != nil {
			t.Errorf("monitor: %v", err)
		}
	})
	<-mon.Ready()

	hp := NewHostProvider(mon, zktest.Logger(t, "client"))
	defer hp.Close()
	hp.keepZxid = true
	var westDials atomic.Int32
	westServers := p.west.Servers()
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c, err := hp.Dial(network, addr, timeout)
		if err == nil && slices.Contains(westServers, addr) {
			westDials.Add(1)
		}
		return c, err
	}
	var sl sessionLog
	client, _, err := zk.Connect(append(p.east.Servers(), westServers...), 6*time.Second,
		zk.WithHostProvider(hp), zk.WithDialer(dial), zk.WithEventCallback(sl.callback),
		zk.WithLogger(zkconn.NewLogger(zktest.Logger(t, "zk"))))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	eventually.True(t, 60*time.Second, "a session on east", func() bool { return sl.sessionOn(p.east.Servers()) })
	if _, err := client.Create("/app", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := client.Set("/app", []byte("x"), -1); err != nil {
			t.Fatal(err)
		}
	}
	p.flip(t)
	eventually.True(t, 60*time.Second, "three connection attempts to west", func() bool { return westDials.Load() >= 3 })
	if sl.sessionOn(westServers) {
		t.Fatal("got a session on west without a fresh session: the refusal did not bite")
	}
	logData, err := os.ReadFile(p.west.LogPath(0))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logData), "Refusing session request") {
		t.Fatal("west's log does not show the zxid refusal")
	}

	// Turning the rewrite back on lets the client through.
	hp.mu.Lock()
	hp.keepZxid = false
	hp.mu.Unlock()
	eventually.True(t, 60*time.Second, "a session on west", func() bool { return sl.sessionOn(westServers) })
}
