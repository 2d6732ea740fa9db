package natsserver

import (
	"context"
	"testing"
	"time"
)

// StartT is Start for tests: the store lives in t.TempDir() and the server is
// shut down in t.Cleanup.
func StartT(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start nats %s: %v", cfg.Site, err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// StartPairT starts two sites, west a leaf of east, each with JetStream in its own
// domain, and returns once each reaches the other's JetStream API over the link.
// Options, if any, adjust both configs (after Site, LeafPort and LeafRemotes are set).
func StartPairT(t testing.TB, east, west string, opts ...func(*Config)) (*Server, *Server) {
	t.Helper()
	ecfg := Config{Site: east}
	for _, o := range opts {
		o(&ecfg)
	}
	e := StartT(t, ecfg)
	wcfg := Config{Site: west, LeafPort: NoLeafListener, LeafRemotes: []string{e.LeafURL()}}
	for _, o := range opts {
		o(&wcfg)
	}
	w := StartT(t, wcfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := WaitLinked(ctx, e, w); err != nil {
		t.Fatalf("link %s and %s: %v", east, west, err)
	}
	return e, w
}
