package client

import (
	"net"
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

// fakeConn is a net.Conn that does nothing; embed it and override what a test needs.
type fakeConn struct{ net.Conn }
