package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
)

// fakePub records events in order; fail, when set, makes Append fail.
type fakePub struct {
	mu     sync.Mutex
	events []journal.Event
	fail   error
	delay  time.Duration // per Append, like a journal under load
}

func (p *fakePub) Append(_ context.Context, ev journal.Event) error {
	if p.delay > 0 {
		time.Sleep(p.delay)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.events = append(p.events, ev)
	return nil
}

func (p *fakePub) Flush(context.Context) error { return nil }

func (p *fakePub) snapshot() []journal.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]journal.Event(nil), p.events...)
}

// modelNode is a node as the standby would hold it.
type modelNode struct {
	Data []byte
	ACL  []zk.ACL
	Mode journal.Mode
	TTL  int64
	Stat journal.Stat
}

// model is an in-memory tree that events are replayed into, as an applier would.
type model struct {
	nodes     map[string]modelNode
	inSnap    bool
	mentioned map[string]bool
}

func newModel() *model { return &model{nodes: map[string]modelNode{}} }

// replayInto applies events to m.
func replayInto(m *model, evs ...journal.Event) {
	for _, ev := range evs {
		switch ev.Kind {
		case journal.KindSnapshotBegin:
			m.inSnap, m.mentioned = true, map[string]bool{}
		case journal.KindSnapshotEnd:
			for p := range m.nodes {
				if !m.mentioned[p] {
					delete(m.nodes, p)
				}
			}
			m.inSnap = false
		case journal.KindCreate, journal.KindUpdate, journal.KindSnapshotNode:
			m.nodes[ev.Path] = modelNode{Data: ev.Data, ACL: ev.ACL, Mode: ev.Mode, TTL: ev.TTL, Stat: ev.Stat}
		case journal.KindACL:
			if n, ok := m.nodes[ev.Path]; ok {
				n.ACL = ev.ACL
				m.nodes[ev.Path] = n
			}
		case journal.KindDelete:
			for p := range m.nodes {
				if zkpath.Under(p, ev.Path) {
					delete(m.nodes, p)
				}
			}
		}
		if m.inSnap && ev.Path != "" {
			m.mentioned[ev.Path] = true
		}
	}
}

// readTree reads the primary independently of the source.
func readTree(t testing.TB, conn *zk.Conn) map[string]modelNode {
	t.Helper()
	tree, err := zktree.Walk(context.Background(), conn, "/", zktree.Options{})
	if err != nil {
		t.Fatalf("walk primary: %v", err)
	}
	out := make(map[string]modelNode, len(tree))
	for p, n := range tree {
		mode, ttl := modeOf(n.EphemeralOwner)
		out[p] = modelNode{Data: n.Data, ACL: n.ACL, Mode: mode, TTL: ttl}
	}
	return out
}

// diffTrees lists differences in paths, data, ACLs and modes (at most 10).
func diffTrees(want, got map[string]modelNode) []string {
	var out []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			out = append(out, p+": missing")
		case !bytes.Equal(w.Data, g.Data):
			out = append(out, fmt.Sprintf("%s: data %d bytes, replayed %d", p, len(w.Data), len(g.Data)))
		case aclKey(w.ACL) != aclKey(g.ACL):
			out = append(out, fmt.Sprintf("%s: acl %v, replayed %v", p, w.ACL, g.ACL))
		case w.Mode != g.Mode || w.TTL != g.TTL:
			out = append(out, fmt.Sprintf("%s: mode %s/%d, replayed %s/%d", p, w.Mode, w.TTL, g.Mode, g.TTL))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			out = append(out, p+": extra")
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("... %d more", len(out)-10))
	}
	return out
}

func aclKey(acl []zk.ACL) string {
	s := make([]string, len(acl))
	for i, a := range acl {
		s[i] = fmt.Sprint(a)
	}
	sort.Strings(s)
	return strings.Join(s, ";")
}

// withoutEphemeral drops replicated ephemerals, which the independent walk skips.
func withoutEphemeral(m map[string]modelNode) map[string]modelNode {
	out := make(map[string]modelNode, len(m))
	for p, n := range m {
		if n.Mode != journal.ModeEphemeral {
			out[p] = n
		}
	}
	return out
}

func sourceWaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			// Every goroutine's stack, so a stall can be told from slowness.
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("timed out after %v waiting for %s\n%s", timeout, what, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testSourceConfig(t testing.TB, servers []string) Config {
	cfg := DefaultConfig()
	cfg.Site, cfg.Epoch = "east", 1
	cfg.Servers = servers
	cfg.SessionTimeout = 4 * time.Second
	cfg.Auth = zktest.Super
	cfg.HeartbeatInterval = 100 * time.Millisecond
	cfg.ReadConcurrency = 64
	cfg.Logger = zktest.Logger(t, "east")
	return cfg
}

// runSource starts Run; cleanup stops it and checks it returned nil.
func runSource(t testing.TB, cfg Config, pub Publisher) *Source {
	t.Helper()
	src, err := New(cfg, pub)
	if err != nil {
		t.Fatalf("new source: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("source run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("source did not stop")
		}
	})
	return src
}

func mustCreate(t testing.TB, conn *zk.Conn, p string, data []byte) {
	t.Helper()
	if _, err := conn.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create %s: %v", p, err)
	}
}

// createChildren makes n children under parent with Multi batches.
func createChildren(t testing.TB, conn *zk.Conn, parent string, n, size int) {
	t.Helper()
	data := bytes.Repeat([]byte("x"), size)
	var ops []any
	flush := func() {
		if len(ops) == 0 {
			return
		}
		// A Multi is all or nothing: after a lost connection it is sent
		// again, and "node exists" then means the first one went through.
		for attempt := 0; ; attempt++ {
			_, err := conn.Multi(ops...)
			if err == nil || attempt > 0 && errors.Is(err, zk.ErrNodeExists) {
				break
			}
			if attempt == 20 || !errors.Is(err, zk.ErrConnectionClosed) && !errors.Is(err, zk.ErrSessionExpired) {
				t.Fatalf("multi create under %s: %v", parent, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		ops = ops[:0]
	}
	for i := 0; i < n; i++ {
		ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/n%06d", parent, i), Data: data, Acl: zk.WorldACL(zk.PermAll)})
		if len(ops) == 1000 {
			flush()
		}
	}
	flush()
}

// cutProxy is a TCP proxy whose link can be cut (connections closed, new ones
// refused) and healed, to expire the source's session.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}
