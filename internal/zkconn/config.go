package zkconn

import (
	"fmt"
	"strings"
	"time"
)

// Config says how to reach one ZooKeeper ensemble.
type Config struct {
	Servers        []string
	SessionTimeout time.Duration
	// Auth is "user:password" for the digest scheme, or empty. Never logged.
	Auth string
}

// Validate checks the fields without revealing Auth in any error.
func (c Config) Validate() error {
	if len(c.Servers) == 0 {
		return fmt.Errorf("%w: no zookeeper servers", ErrInvalidConfig)
	}
	if c.SessionTimeout <= 0 {
		return fmt.Errorf("%w: session timeout must be positive", ErrInvalidConfig)
	}
	if c.Auth != "" && !strings.Contains(c.Auth, ":") {
		return fmt.Errorf("%w: zookeeper auth must be user:password", ErrInvalidConfig)
	}
	return nil
}
