package natsserver

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// TB is the part of TB the test helpers use. It is an interface of
// its own so that the zkdr binary, which starts NATS for `zkdr dev`, does not
// link the testing package.
type TB interface {
	Helper()
	TempDir() string
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// StartT is Start for tests: the store lives in t.TempDir() and the server is
// shut down in t.Cleanup.
func StartT(t TB, cfg Config) *Server {
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
func StartPairT(t TB, east, west string, opts ...func(*Config)) (*Server, *Server) {
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

// FindInStore reports whether b appears in any file under a JetStream store
// directory, and how many non-empty files it read.
func FindInStore(t TB, dir string, b []byte) (found bool, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(data) > 0 {
			files++
		}
		found = found || bytes.Contains(data, b)
		return nil
	})
	if err != nil {
		t.Fatalf("read store %s: %v", dir, err)
	}
	return found, files
}
