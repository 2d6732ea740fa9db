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
	"github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/internal/zkconn"
)

// dialSite connects to one site's ensemble with its configured credentials,
// giving up after timeout.
func dialSite(ctx context.Context, z configs.ZooKeeper, timeout time.Duration) (*zk.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return zkconn.Dial(ctx, zkconn.Config{
		Servers: z.Servers, SessionTimeout: z.SessionTimeout, Auth: z.Auth.Reveal(),
	}, hclog.NewNullLogger())
}

// siteJetStream connects to this site's NATS and returns a JetStream context
// for domain: this site's own, or the peer's, reached over the leafnode link.
// The caller closes the connection.
func siteJetStream(c configs.NATS, domain string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := daemon.ConnectNATS(c, hclog.NewNullLogger(), nats.RetryOnFailedConnect(false), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.NewWithDomain(nc, domain)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream domain %s: %w", domain, err)
	}
	return nc, js, nil
}
