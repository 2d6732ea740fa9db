package natsserver

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats-server/v2/server"
)

// Server is one embedded NATS server with JetStream in its own domain.
type Server struct {
	cfg      Config
	storeDir string
	ownStore bool

	mu       sync.Mutex // guards ns and the bound ports
	ns       *server.Server
	port     int // bound client port, kept for Restart
	leafPort int // bound leaf port, kept for Restart; -1 without a listener
}

// Start runs a server and returns once it accepts connections with JetStream on.
func Start(cfg Config) (*Server, error) {
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultConfig().ReadyTimeout
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, storeDir: cfg.StoreDir, port: cfg.Port, leafPort: cfg.LeafPort}
	if s.storeDir == "" {
		dir, err := os.MkdirTemp("", "natsserver-"+cfg.Site+"-")
		if err != nil {
			return nil, fmt.Errorf("make store dir: %w", err)
		}
		s.storeDir, s.ownStore = dir, true
	}
	if err := s.start(); err != nil {
		if s.ownStore {
			_ = os.RemoveAll(s.storeDir)
		}
		return nil, err
	}
	return s, nil
}

// options builds fresh server options; the server writes bound ports back into
// them, so each start gets its own.
func (s *Server) options() (*server.Options, error) {
	o := &server.Options{
		ServerName:      s.cfg.Site,
		Host:            "127.0.0.1",
		Port:            s.port,
		NoSigs:          true,
		NoLog:           s.cfg.Logger == nil,
		JetStream:       true,
		JetStreamDomain: s.cfg.Site,
		StoreDir:        s.storeDir,
		SyncAlways:      s.cfg.SyncAlways,
		MaxPayload:      s.cfg.MaxPayload,
	}
	if s.cfg.EncryptionKey != "" {
		o.JetStreamKey, o.JetStreamCipher = s.cfg.EncryptionKey, server.AES
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	if s.leafPort != NoLeafListener {
		o.LeafNode.Host = "127.0.0.1"
		// A hub tells its leaves its own leaf listener address, which they then
		// add to the URLs they dial: a leaf whose remote is a proxy would come
		// back around the proxy after a cut. Single-server sites have nothing to
		// gossip, so never advertise.
		o.LeafNode.NoAdvertise = true
		o.LeafNode.Port = s.leafPort
		if o.LeafNode.Port == 0 {
			o.LeafNode.Port = server.RANDOM_PORT
		}
	}
	o.LeafNode.ReconnectInterval = s.cfg.LeafReconnect
	for _, r := range s.cfg.LeafRemotes {
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("%w: leaf remote: %v", ErrInvalidConfig, err)
		}
		o.LeafNode.Remotes = append(o.LeafNode.Remotes, &server.RemoteLeafOpts{URLs: []*url.URL{u}})
	}
	if s.cfg.Configure != nil {
		s.cfg.Configure(o)
	}
	return o, nil
}

// start runs a new server on s's ports. A port taken by someone else in between
// (only possible on Restart) is retried for a few seconds.
func (s *Server) start() error {
	op := func() error {
		o, err := s.options()
		if err != nil {
			return backoff.Permanent(err)
		}
		ns, err := server.NewServer(o)
		if err != nil {
			return backoff.Permanent(fmt.Errorf("new nats server: %w", err))
		}
		if s.cfg.Logger != nil {
			ns.SetLogger(hclogAdapter{s.cfg.Logger.Named("nats").With("site", s.cfg.Site)}, false, false)
		}
		ns.Start()
		if !ns.ReadyForConnections(s.cfg.ReadyTimeout) {
			ns.Shutdown()
			ns.WaitForShutdown()
			return fmt.Errorf("%w: site %s after %s", ErrNotReady, s.cfg.Site, s.cfg.ReadyTimeout)
		}
		if !ns.JetStreamEnabled() {
			ns.Shutdown()
			ns.WaitForShutdown()
			return backoff.Permanent(fmt.Errorf("%w: site %s: jetstream did not start", ErrNotReady, s.cfg.Site))
		}
		s.mu.Lock()
		s.ns = ns
		s.port = ns.Addr().(*net.TCPAddr).Port
		if o.LeafNode.Port > 0 {
			s.leafPort = o.LeafNode.Port
		}
		s.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.ReadyTimeout)
	defer cancel()
	return backoff.Retry(op, backoff.WithContext(backoff.NewConstantBackOff(250*time.Millisecond), ctx))
}

// ClientURL is nats://127.0.0.1:port.
func (s *Server) ClientURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "nats://127.0.0.1:" + strconv.Itoa(s.port)
}

// LeafURL is nats-leaf://127.0.0.1:port, or "" without a leaf listener.
func (s *Server) LeafURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leafPort <= 0 {
		return ""
	}
	return "nats-leaf://127.0.0.1:" + strconv.Itoa(s.leafPort)
}

// LeafAddr is 127.0.0.1:port of the leaf listener (for a proxy in front of it), or "".
func (s *Server) LeafAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leafPort <= 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.leafPort))
}

// Domain is the JetStream domain, the site name.
func (s *Server) Domain() string { return s.cfg.Site }

// StoreDir is where JetStream keeps its files.
func (s *Server) StoreDir() string { return s.storeDir }

// NATS returns the running nats-server (nil after Shutdown), for checks the
// harness does not wrap.
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns
}

// LeafConnected reports whether the server has at least one leafnode connection
// (as a leaf or as a hub).
func (s *Server) LeafConnected() bool {
	ns := s.NATS()
	return ns != nil && ns.NumLeafNodes() > 0
}

// Restart shuts the server down and starts a new one with the same ports, store
// and options. JetStream recovers its streams from the store.
func (s *Server) Restart() error {
	s.stop()
	if err := s.start(); err != nil {
		return fmt.Errorf("restart site %s: %w", s.cfg.Site, err)
	}
	return nil
}

// stop shuts the running server down and waits until it is gone.
func (s *Server) stop() {
	s.mu.Lock()
	ns := s.ns
	s.ns = nil
	s.mu.Unlock()
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// Shutdown stops the server for good and removes the store dir if Start made it.
func (s *Server) Shutdown() {
	s.stop()
	if s.ownStore {
		_ = os.RemoveAll(s.storeDir)
	}
}
