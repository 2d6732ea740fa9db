package daemon

import (
	"testing"

	"github.com/zkdr/zkdr/failover/client"
	"github.com/zkdr/zkdr/failover/site"
)

func TestDecide(t *testing.T) {
	rec := func(role site.Role, epoch uint64, by string) site.Record {
		return site.Record{Site: "x", Role: role, Epoch: epoch, ChangedBy: by}
	}
	peerAt := func(role site.Role, epoch uint64) client.SiteView {
		return client.SiteView{Site: "y", Record: site.Record{Site: "y", Role: role, Epoch: epoch}, Exists: true, Reachable: true}
	}
	unreachable := client.SiteView{Site: "y", Record: site.Record{Site: "y", Role: site.RoleActive, Epoch: 9}, Exists: true}
	cases := []struct {
		name string
		own  site.Record
		peer client.SiteView
		want mode
	}{
		{"active, peer standby", rec(site.RoleActive, 1, ""), peerAt(site.RoleStandby, 0), modeActive},
		{"active, peer unknown", rec(site.RoleActive, 1, ""), client.SiteView{}, modeActive},
		{"active, peer unreachable keeps its last word out", rec(site.RoleActive, 1, ""), unreachable, modeActive},
		{"active, peer promoted past it", rec(site.RoleActive, 1, ""), peerAt(site.RoleActive, 2), modeRejoin},
		{"active, peer active at the same epoch", rec(site.RoleActive, 2, ""), peerAt(site.RoleActive, 2), modeIdle},
		{"standby", rec(site.RoleStandby, 2, ""), peerAt(site.RoleActive, 2), modeStandby},
		{"fenced by promote, peer active", rec(site.RoleFenced, 2, site.ChangedByPromote), peerAt(site.RoleActive, 2), modeRejoin},
		{"fenced by promote, peer not active yet", rec(site.RoleFenced, 2, site.ChangedByPromote), peerAt(site.RoleStandby, 1), modeIdle},
		{"fenced by switchover waits for it", rec(site.RoleFenced, 1, site.ChangedBySwitchover), peerAt(site.RoleActive, 2), modeIdle},
		{"fenced by rejoin resumes the rejoin", rec(site.RoleFenced, 2, site.ChangedByRejoin), peerAt(site.RoleActive, 2), modeRejoin},
		{"fenced above the peer's epoch", rec(site.RoleFenced, 3, site.ChangedByPromote), peerAt(site.RoleActive, 2), modeIdle},
	}
	for _, c := range cases {
		if got := decide(c.own, c.peer); got.mode != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got.mode, c.want)
		}
	}
}
