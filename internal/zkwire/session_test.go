package zkwire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zkserver"
)

func TestReconnectKeepsSessionAndWatch(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 3})
	var rec recorder
	// Calls issued while disconnected: OnEvent runs before the reconnect starts,
	// so these are queued during the outage for certain.
	var outage struct {
		sync.Mutex
		calls []*Call[Data]
	}
	var c *Conn
	var ready = make(chan struct{})
	onEvent := func(ev Event) {
		rec.on(ev)
		if ev.Kind == EventDisconnected {
			<-ready
			outage.Lock()
			for range 100 {
				outage.calls = append(outage.calls, c.GetData("/w"))
			}
			outage.Unlock()
		}
	}
	c = dialT(t, Config{Servers: zkc.Servers(), SessionTimeout: 20 * time.Second, OnEvent: onEvent})
	close(ready)
	other := goZK(t, zkc.Servers())
	acl := zk.WorldACL(zk.PermAll)
	if _, err := other.Create("/w", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	must(t, c.AddWatch("/w", true))
	sid, first := c.SessionID(), c.Server()
	idx := slices.Index(zkc.Servers(), first)
	if idx < 0 {
		t.Fatalf("connected to %q, not one of %v", first, zkc.Servers())
	}

	// Another client keeps writing under the watched root through the outage.
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = other.Create(fmt.Sprintf("/w/during-%d", i), nil, 0, acl)
		}
	}()
	eventually.True(t, 30*time.Second, "notifications before the kill", func() bool { return len(rec.notifications()) > 10 })
	if err := zkc.Kill(idx); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 60*time.Second, "reconnect", func() bool {
		k := rec.kinds()
		return len(k) >= 3 && k[len(k)-1] == EventConnected
	})
	close(stop)
	<-writerDone

	var conns []Event
	for _, ev := range rec.snapshot() {
		if ev.Kind != EventNotification {
			conns = append(conns, ev)
		}
	}
	if len(conns) != 3 || conns[1].Kind != EventDisconnected || conns[1].Server != first {
		t.Fatalf("state events %+v, want connected, disconnected from %s, connected", conns, first)
	}
	re := conns[2]
	if re.NewSession || re.SessionID != sid || re.Server == first || re.Server == "" {
		t.Fatalf("reconnect %+v, want same session %x on another server than %s", re, sid, first)
	}
	if c.SessionID() != sid || c.Server() != re.Server {
		t.Fatalf("conn reports session %x server %s", c.SessionID(), c.Server())
	}

	// The outage's calls were sent after the reconnect.
	outage.Lock()
	calls := outage.calls
	outage.Unlock()
	if len(calls) != 100 {
		t.Fatalf("%d outage calls", len(calls))
	}
	for _, call := range calls {
		must(t, call)
	}

	// The watch came back: changes made now are delivered.
	mark := len(rec.notifications())
	for i := range 20 {
		if _, err := other.Create(fmt.Sprintf("/w/after-%d", i), nil, 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	eventually.True(t, 30*time.Second, "notifications after the reconnect", func() bool {
		n := 0
		for _, ev := range rec.notifications()[mark:] {
			var i int
			if _, err := fmt.Sscanf(ev.Path, "/w/after-%d", &i); err == nil && ev.Type == zk.EventNodeCreated {
				n++
			}
		}
		return n == 20
	})
}

func TestSessionExpiry(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	var rec recorder
	// The server does not always close the socket of a session closed from
	// another connection; a short timeout bounds how long the client waits to
	// notice (its read deadline is 2/3 of it).
	c := dialT(t, Config{Servers: zkc.Servers(), SessionTimeout: 4 * time.Second, OnEvent: rec.on})
	acl := zk.WorldACL(zk.PermAll)
	must(t, c.Create("/e", nil, 0, acl))
	must(t, c.AddWatch("/e", true))
	old := c.SessionID()

	closeSessionAs(t, zkc.Servers()[0], c)

	eventually.True(t, 30*time.Second, "expiry and a new session", func() bool {
		k := rec.kinds()
		return len(k) >= 2 && k[len(k)-2] == EventExpired && k[len(k)-1] == EventConnected
	})
	evs := rec.snapshot()
	var expired, connected Event
	for _, ev := range evs {
		switch ev.Kind {
		case EventExpired:
			expired = ev
		case EventConnected:
			connected = ev
		}
	}
	if expired.SessionID != old {
		t.Fatalf("expired %+v, want session %x", expired, old)
	}
	if !connected.NewSession || connected.SessionID == old || connected.SessionID == 0 || c.SessionID() != connected.SessionID {
		t.Fatalf("connected %+v after expiry of %x", connected, old)
	}
	// The new session works, and the old session's watch is gone.
	mark := len(rec.notifications())
	must(t, c.Create("/e/x", nil, 0, acl))
	must(t, c.Sync("/e"))
	if n := rec.notifications()[mark:]; len(n) != 0 {
		t.Fatalf("notifications after expiry: %+v", n)
	}
	c.wmu.Lock()
	n := len(c.watches)
	c.wmu.Unlock()
	if n != 0 {
		t.Fatalf("%d watches remembered after expiry", n)
	}
}

// closeSessionAs connects to addr with c's session id and password and closes
// the session, which expires it for c. c reconnects as soon as the server moves
// the session to the new socket, and the server then drops this one: the
// connect request and closeSession go out in one write, and the whole exchange
// is retried until the server answers the close (or reports the session gone).
func closeSessionAs(t *testing.T, addr string, c *Conn) {
	t.Helper()
	sid := c.SessionID()
	c.smu.Lock()
	passwd := append([]byte(nil), c.passwd...)
	c.smu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 1; ; attempt++ {
		done, err := tryCloseSession(addr, sid, passwd)
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("close session %x: %v", sid, err)
		}
		t.Logf("close session attempt %d: %v", attempt, err)
	}
}

func tryCloseSession(addr string, sid int64, passwd []byte) (bool, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	var e encoder
	(&connectRequest{TimeOut: 10000, SessionID: sid, Passwd: passwd}).encode(&e)
	out := append([]byte(nil), e.buf...)
	out = append(out, encodeRequest(&e, &request{xid: 1, opcode: opClose})...)
	if _, err := nc.Write(out); err != nil {
		return false, err
	}
	frame, err := readFrame(br, nil)
	if err != nil {
		return false, err
	}
	resp, err := decodeConnectResponse(frame)
	if err != nil {
		return false, err
	}
	if resp.TimeOut <= 0 {
		return true, nil // gone already
	}
	for {
		frame, err := readFrame(br, nil)
		if err != nil {
			return false, err
		}
		d := decoder{b: frame}
		if h := d.replyHeader(); h.Xid == 1 {
			if h.Err != 0 {
				return false, fmt.Errorf("close session: error %d", h.Err)
			}
			return true, nil
		}
	}
}

func TestPersistentWatchRefusedByOptimizedWatchManager(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1, JavaProps: map[string]string{
		"zookeeper.watchManagerName": "org.apache.zookeeper.server.watch.WatchManagerOptimized",
	}})
	c := dialT(t, Config{Servers: zkc.Servers()})
	must(t, c.Create("/o", nil, 0, zk.WorldACL(zk.PermAll)))
	for _, recursive := range []bool{true, false} {
		_, err := wait(t, c.AddWatch("/o", recursive))
		var se *ServerError
		if !errors.As(err, &se) || se.Code != codeMarshalling || !errors.Is(err, zk.ErrUnknown) {
			t.Fatalf("addWatch recursive=%v: %v, want server error -5", recursive, err)
		}
	}
	// The refusal leaves the connection usable.
	must(t, c.GetData("/o"))
	c.wmu.Lock()
	n := len(c.watches)
	c.wmu.Unlock()
	if n != 0 {
		t.Fatalf("refused watch remembered")
	}
}

func TestCloseFailsCallsAndLeaksNothing(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	other := goZK(t, zkc.Servers())
	if _, err := other.Create("/c", make([]byte, 1000), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	cfg := DefaultConfig()
	cfg.Servers = zkc.Servers()
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	must(t, c.AddWatch("/c", true))
	must(t, c.Create("/c/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)))
	calls := make([]*Call[Data], 5000)
	for i := range calls {
		calls[i] = c.GetData("/c")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i, call := range calls {
		select {
		case <-call.Done():
		default:
			t.Fatalf("call %d not done after Close", i)
		}
		_, err := call.Wait(ctx)
		switch {
		case err == nil:
		case errors.Is(err, zk.ErrClosing):
			failed++
		default:
			t.Fatalf("call %d: %v, want success or zk.ErrClosing", i, err)
		}
	}
	t.Logf("%d of %d calls failed with ErrClosing", failed, len(calls))
	if _, err := wait(t, c.GetData("/c")); !errors.Is(err, zk.ErrClosing) {
		t.Fatalf("call after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoLeak(t, base)
	// closeSession ended the session on the server, not just the socket: the
	// ephemeral goes well before the 10s session timeout would remove it.
	eventually.True(t, 3*time.Second, "ephemeral gone", func() bool {
		ok, _, err := other.Exists("/c/eph")
		return err == nil && !ok
	})
}

// A server restored from a backup is behind the zxids the client has seen and
// refuses the session for ever; once that outlasts the session timeout the
// client starts a new session, reported as an expiry.
func TestSessionAfterRestoreFromBackup(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1})
	boot := dialT(t, Config{Servers: zkc.Servers()})
	must(t, boot.Create("/restored", nil, 0, zk.WorldACL(zk.PermAll)))
	boot.Close()
	check(t, zkc.Stop(0))
	backup := filepath.Join(t.TempDir(), "backup")
	check(t, os.CopyFS(backup, os.DirFS(zkc.DataDir(0))))
	check(t, zkc.Restart(0))

	var rec recorder
	c := dialT(t, Config{Servers: zkc.Servers(), SessionTimeout: 4 * time.Second, OnEvent: rec.on})
	for i := range 50 {
		must(t, c.Create(fmt.Sprintf("/restored/n%02d", i), nil, 0, zk.WorldACL(zk.PermAll)))
	}
	old, seen := c.SessionID(), c.LastZxid()

	check(t, zkc.Stop(0))
	check(t, os.RemoveAll(zkc.DataDir(0)))
	check(t, os.CopyFS(zkc.DataDir(0), os.DirFS(backup)))
	check(t, zkc.Restart(0))

	eventually.True(t, 60*time.Second, "a new session on the restored server", func() bool {
		k := rec.kinds()
		return len(k) >= 2 && k[len(k)-2] == EventExpired && k[len(k)-1] == EventConnected
	})
	if c.SessionID() == old || c.LastZxid() >= seen {
		t.Fatalf("session %x, last zxid %x: want a new session that has seen less than %x", c.SessionID(), c.LastZxid(), seen)
	}
	must(t, c.Exists("/restored"))
	if _, err := wait(t, c.Exists("/restored/n00")); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("exists /restored/n00 on the restored server: %v, want no node (the backup's tree)", err)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
