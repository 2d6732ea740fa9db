package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/replicator"
)

// dialSite connects to one site's ensemble with its configured credentials,
// giving up after timeout.
func dialSite(ctx context.Context, z configs.ZooKeeper, timeout time.Duration) (*zk.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return replicator.DialZK(ctx, replicator.ZKConfig{
		Servers: z.Servers, SessionTimeout: z.SessionTimeout, Auth: z.Auth.Reveal(),
	}, hclog.NewNullLogger(), nil)
}

// dialNATS connects to this site's NATS; the peer's JetStream domain is reached
// through it over the leafnode link.
func dialNATS(c configs.NATS) (*nats.Conn, error) {
	return failover.ConnectNATS(c, hclog.NewNullLogger(), nats.RetryOnFailedConnect(false), nats.Timeout(5*time.Second))
}

// jsFor returns a JetStream context for a domain.
func jsFor(nc *nats.Conn, domain string) (jetstream.JetStream, error) {
	js, err := jetstream.NewWithDomain(nc, domain)
	if err != nil {
		return nil, fmt.Errorf("jetstream domain %s: %w", domain, err)
	}
	return js, nil
}
