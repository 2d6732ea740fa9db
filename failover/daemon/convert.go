package daemon

import (
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkconn"
)

// zkConfigOf is the session config of an ensemble of a site config.
func zkConfigOf(z configs.ZooKeeper) zkconn.Config {
	return zkconn.Config{Servers: z.Servers, SessionTimeout: z.SessionTimeout, Auth: z.Auth.Reveal()}
}

// pairOf is cfg's site and its peer, as the failover operations reach them.
func pairOf(cfg *configs.Config) failover.Pair {
	return failover.Pair{
		Site: cfg.Site, Peer: cfg.Peer.Name,
		ZooKeeper: zkConfigOf(cfg.ZooKeeper), PeerZooKeeper: zkConfigOf(cfg.Peer.ZooKeeper),
	}
}

// PromoteConfig is what failover.Promote needs of cfg's site and its peer.
func PromoteConfig(cfg *configs.Config) failover.PromoteConfig {
	return failover.PromoteConfig{
		Pair:              pairOf(cfg),
		InitialRole:       site.Role(cfg.InitialRole),
		HeartbeatInterval: cfg.Source.HeartbeatInterval,
		ConnectNATS:       func(logger hclog.Logger) (*nats.Conn, error) { return ConnectNATS(cfg.NATS, logger) },
	}
}

// SwitchoverConfig is what failover.Switchover needs of cfg's two sites.
func SwitchoverConfig(cfg *configs.Config) failover.SwitchoverConfig {
	return failover.SwitchoverConfig{Pair: pairOf(cfg), MaxLag: cfg.Failover.MaxLagForSwitchover}
}
