package natsserver

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
)

// NoLeafListener is the LeafPort value for a server that accepts no leafnode connections.
const NoLeafListener = -1

// Config describes one embedded NATS server with JetStream.
type Config struct {
	// Site names the server and is its JetStream domain.
	Site string
	// StoreDir holds JetStream's files; "" = a new temp dir that Shutdown removes.
	StoreDir string
	// Port is the client port; 0 = a random free port.
	Port int
	// LeafPort >= 0 listens for leafnode connections (0 = a random port);
	// NoLeafListener (-1) listens for none.
	LeafPort int
	// LeafRemotes are nats-leaf://host:port URLs this server connects to as a leaf.
	LeafRemotes []string
	// LeafReconnect is how long a leaf waits between attempts to reach its remotes;
	// 0 = the NATS default (1s).
	LeafReconnect time.Duration
	// SyncAlways makes JetStream fsync every write (sync_interval: always).
	SyncAlways bool
	// MaxPayload is the largest message; 0 = the NATS default (1 MB).
	MaxPayload int32
	// ReadyTimeout bounds how long Start waits for the listeners; 0 = 30s.
	ReadyTimeout time.Duration
	// EncryptionKey, if set, encrypts JetStream's files at rest (AES-GCM with a
	// key derived from it), as nats-server's `jetstream { cipher: aes, key: ... }`.
	EncryptionKey string
	// Configure, if set, may change the server options last (accounts, users, TLS...).
	Configure func(*server.Options)
	// Logger receives the server's log; nil turns it off.
	Logger hclog.Logger
}

// DefaultConfig is a server for site "local" on random ports with a leaf listener.
func DefaultConfig() Config {
	return Config{Site: "local", ReadyTimeout: 30 * time.Second}
}

var siteName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate reports a config that cannot run.
func (c Config) Validate() error {
	if !siteName.MatchString(c.Site) {
		return fmt.Errorf("%w: site %q must be letters, digits, '-' or '_'", ErrInvalidConfig, c.Site)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("%w: port %d", ErrInvalidConfig, c.Port)
	}
	if c.LeafPort < NoLeafListener || c.LeafPort > 65535 {
		return fmt.Errorf("%w: leaf port %d", ErrInvalidConfig, c.LeafPort)
	}
	if c.MaxPayload < 0 {
		return fmt.Errorf("%w: max payload %d", ErrInvalidConfig, c.MaxPayload)
	}
	for _, r := range c.LeafRemotes {
		if _, err := url.Parse(r); err != nil {
			return fmt.Errorf("%w: leaf remote: %v", ErrInvalidConfig, err)
		}
	}
	return nil
}
