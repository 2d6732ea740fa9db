package failover

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkconn"
)

// Pair names a site and its peer and how to reach their ensembles; a
// promotion and a switchover each start from one.
type Pair struct {
	Site, Peer               string
	ZooKeeper, PeerZooKeeper zkconn.Config
}

// PromoteConfig is what Promote needs of the site it promotes and its peer.
type PromoteConfig struct {
	Pair
	// InitialRole is the role the site's record starts with if it has none.
	InitialRole site.Role
	// HeartbeatInterval is the sources' heartbeat interval: with the peer
	// unreachable, writes it acknowledged up to one interval after its last
	// sign of life may be lost.
	HeartbeatInterval time.Duration
	// ConnectNATS connects to the site's NATS, logging to logger; Promote
	// closes the connection.
	ConnectNATS func(logger hclog.Logger) (*nats.Conn, error)
}

// SwitchoverConfig is what Switchover needs of the two sites; it works from
// either site's side.
type SwitchoverConfig struct {
	Pair
	// MaxLag is the standby's lag above which the preflight refuses, unless
	// SwitchoverOptions.MaxLag says otherwise.
	MaxLag time.Duration
}
