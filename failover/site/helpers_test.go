package site

import (
	"testing"

	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktest"
)

// startZK runs one standalone ZooKeeper server (one site) until the test ends.
func startZK(t *testing.T) *zkserver.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	return zktest.StartSite(t)
}
