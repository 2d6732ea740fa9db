package natsserver

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WaitDomain polls until a client of s reaches the JetStream API of domain (its
// own, or one across a leafnode link), or ctx ends. A leafnode connection is up
// some time before JetStream requests are routed over it; this waits for the latter.
func (s *Server) WaitDomain(ctx context.Context, domain string) error {
	nc, err := nats.Connect(s.ClientURL(), nats.Name("natsserver-wait"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to site %s: %w", s.cfg.Site, err)
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, domain)
	if err != nil {
		return fmt.Errorf("jetstream domain %s: %w", domain, err)
	}
	var last error
	op := func() error {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, last = js.AccountInfo(rctx)
		return last
	}
	if err := backoff.Retry(op, backoff.WithContext(backoff.NewConstantBackOff(100*time.Millisecond), ctx)); err != nil {
		return fmt.Errorf("site %s: reach domain %s: %w (last: %v)", s.cfg.Site, domain, err, last)
	}
	return nil
}

// WaitLinked polls until a and b have a leafnode connection and each reaches the
// other's JetStream domain across it.
func WaitLinked(ctx context.Context, a, b *Server) error {
	op := func() error {
		if !a.LeafConnected() || !b.LeafConnected() {
			return fmt.Errorf("leafnode between %s and %s not connected", a.Domain(), b.Domain())
		}
		return nil
	}
	if err := backoff.Retry(op, backoff.WithContext(backoff.NewConstantBackOff(50*time.Millisecond), ctx)); err != nil {
		return fmt.Errorf("wait for leafnode: %w", err)
	}
	if err := a.WaitDomain(ctx, b.Domain()); err != nil {
		return err
	}
	return b.WaitDomain(ctx, a.Domain())
}
