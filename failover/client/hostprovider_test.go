package client

import (
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zktest"
)

// newTestProvider builds a provider over a monitor fed by hand (no ZooKeeper).
func newTestProvider(t *testing.T) (*Monitor, *HostProvider) {
	t.Helper()
	cfg := DefaultMonitorConfig()
	cfg.Sites = []Site{{Name: "east", Servers: []string{"e1:1", "e2:1"}}, {Name: "west", Servers: []string{"w1:1"}}}
	m, err := NewMonitor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hp := NewHostProvider(m, zktest.Logger(t, "hp"))
	t.Cleanup(hp.Close)
	if err := hp.Init([]string{"w1:1", "e2:1", "e1:1"}); err != nil {
		t.Fatal(err)
	}
	return m, hp
}

func set(m *Monitor, name string, role site.Role, epoch uint64) {
	m.update(name, site.RecordState{Exists: true, Record: site.Record{Site: name, Role: role, Epoch: epoch}})
}

func TestHostProviderFollowsActiveSite(t *testing.T) {
	m, hp := newTestProvider(t)
	if err := hp.Init([]string{"x:1"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Init with a server of no site: %v", err)
	}
	hp.Init([]string{"w1:1", "e2:1", "e1:1"})
	if hp.Len() != 3 {
		t.Fatalf("Len = %d", hp.Len())
	}

	// Nothing known yet: every attempt pauses and is refused.
	s, retry := hp.Next()
	if !retry {
		t.Fatal("no active site: Next should pause")
	}
	if _, err := hp.Dial("tcp", s, time.Second); !errors.Is(err, site.ErrNotActive) {
		t.Fatalf("Dial with no active site: %v", err)
	}
	select {
	case <-m.Ready():
		t.Fatal("ready before every site was read")
	default:
	}

	set(m, "east", site.RoleActive, 1)
	set(m, "west", site.RoleStandby, 0)
	<-m.Ready()
	var got []string
	var retries int
	for range 4 {
		s, retry := hp.Next()
		got = append(got, s)
		if retry {
			retries++
		}
	}
	for _, s := range got {
		if !slices.Contains([]string{"e1:1", "e2:1"}, s) {
			t.Fatalf("Next gave %s while east is active: %v", s, got)
		}
	}
	if retries != 1 {
		t.Fatalf("%d retryStart in 4 calls over 2 servers, want 1 (after the first round)", retries)
	}
	if _, err := hp.Dial("tcp", "w1:1", time.Second); !errors.Is(err, site.ErrNotActive) {
		t.Fatalf("Dial to the standby: %v", err)
	}

	// A tracked connection is closed when the active site changes.
	c := &closeConn{}
	hp.mu.Lock()
	hp.conn = &trackedConn{Conn: c, site: "east"}
	hp.mu.Unlock()
	set(m, "east", site.RoleFenced, 1)
	if !c.closed || hp.Target() != "" {
		t.Fatalf("after fence: closed=%v target=%q", c.closed, hp.Target())
	}
	set(m, "west", site.RoleActive, 2)
	if s, retry := hp.Next(); s != "w1:1" || retry {
		t.Fatalf("Next after promotion = %s,%v; want w1:1 without a pause", s, retry)
	}
	// A stale active record of the old site does not take clients back.
	set(m, "east", site.RoleActive, 1)
	if hp.Target() != "west" {
		t.Fatalf("target %q after a stale active record", hp.Target())
	}
}

type closeConn struct {
	fakeConn
	closed bool
}

func (c *closeConn) Close() error { c.closed = true; return nil }

var _ net.Conn = (*closeConn)(nil)
