package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientDependsOnZooKeeperAlone: an application that follows the active
// site with Connect or HostProvider links go-zookeeper and the site records,
// not the daemon's config, metrics, journal or replicator.
func TestClientDependsOnZooKeeperAlone(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/zkdr/zkdr/configs",
			"github.com/zkdr/zkdr/replicator",
			"github.com/zkdr/zkdr/journal",
			"github.com/prometheus",
			"github.com/nats-io",
			"github.com/hashicorp/hcl",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("failover/client depends on %s", dep)
			}
		}
	}
}
