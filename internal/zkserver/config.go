package zkserver

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config describes the servers Start runs.
type Config struct {
	// Servers is 1 (standalone) or 3 (an ensemble; any odd number up to 7 works).
	Servers int
	// SuperDigest "user:password" enables the digest super user; the harness passes
	// user:base64(sha1(user:password)) as
	// -Dzookeeper.DigestAuthenticationProvider.superDigest. Never logged.
	SuperDigest string
	// ExtendedTypes sets zookeeper.extendedTypesEnabled=true (TTL nodes).
	ExtendedTypes bool
	// Dir is the data root; "" means a new temp dir that Close removes.
	Dir string
	// TickTime is ZooKeeper's tick; session timeouts are bounded to 2..20 ticks.
	TickTime time.Duration
	// JavaProps are extra -D system properties (jute.maxbuffer, zookeeper.forceSync...).
	JavaProps map[string]string
	// StartTimeout bounds how long Start and Restart wait for serving.
	StartTimeout time.Duration
	// MaxHeap is each server's -Xmx in java's notation ("1g", "4096m"); "" means
	// 1g, enough for a few hundred thousand small znodes.
	MaxHeap string
	// Logger gets the harness's own messages (never the server's output, which goes
	// to server.log in each server's directory).
	Logger hclog.Logger
}

// heapSize is what java's -Xmx takes: a number with an optional k, m or g.
var heapSize = regexp.MustCompile(`^[1-9][0-9]*[kKmMgG]?$`)

// DefaultConfig is one standalone server with a one-second tick.
func DefaultConfig() Config {
	return Config{
		Servers:      1,
		TickTime:     time.Second,
		StartTimeout: 90 * time.Second,
		MaxHeap:      "1g",
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Servers == 0 {
		c.Servers = d.Servers
	}
	if c.TickTime == 0 {
		c.TickTime = d.TickTime
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = d.StartTimeout
	}
	if c.MaxHeap == "" {
		c.MaxHeap = d.MaxHeap
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// Validate reports a config that cannot run.
func (c Config) Validate() error {
	if c.Servers < 1 || c.Servers > 7 {
		return fmt.Errorf("%w: servers must be 1..7, got %d", ErrInvalidConfig, c.Servers)
	}
	if c.TickTime < time.Millisecond {
		return fmt.Errorf("%w: tick time must be at least 1ms", ErrInvalidConfig)
	}
	if c.SuperDigest != "" {
		user, pass, ok := strings.Cut(c.SuperDigest, ":")
		if !ok || user == "" || pass == "" {
			// The value itself is a secret: do not echo it.
			return fmt.Errorf("%w: super digest must be \"user:password\"", ErrInvalidConfig)
		}
	}
	if c.MaxHeap != "" && !heapSize.MatchString(c.MaxHeap) {
		return fmt.Errorf("%w: max heap must be a java size such as 1g or 4096m, got %q", ErrInvalidConfig, c.MaxHeap)
	}
	for k := range c.JavaProps {
		if k == "" || strings.ContainsAny(k, " =") {
			return fmt.Errorf("%w: bad java property name %q", ErrInvalidConfig, k)
		}
	}
	return nil
}
