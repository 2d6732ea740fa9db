package zkwire

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config describes the session Dial makes.
type Config struct {
	// Servers are "host:port" addresses, tried in order starting from a random one,
	// round robin on failure.
	Servers []string
	// SessionTimeout is asked of the server; the negotiated one is used for pings
	// and read deadlines.
	SessionTimeout time.Duration
	// Auth is a digest "user:password", or "". It is sent after every connect
	// before any queued request. It never appears in a log line or an error.
	Auth string
	// ConnectTimeout bounds each TCP dial plus handshake attempt.
	ConnectTimeout time.Duration
	// Logger gets the connection's messages; nil means a null logger.
	Logger hclog.Logger
	// OnEvent gets every watch notification and every session state change, in
	// the order the client saw them. Calls never overlap; it must not block (it
	// runs on the connection's reader, so a blocking OnEvent stalls every reply).
	OnEvent func(Event)
}

// DefaultConfig has a 10s session timeout and a 5s connect timeout; Servers is
// left for the caller.
func DefaultConfig() Config {
	return Config{
		SessionTimeout: 10 * time.Second,
		ConnectTimeout: 5 * time.Second,
	}
}

// Validate reports a config Dial cannot use. It never shows Auth.
func (c Config) Validate() error {
	if len(c.Servers) == 0 {
		return fmt.Errorf("%w: no servers", ErrInvalidConfig)
	}
	for _, s := range c.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("%w: server %q is not host:port", ErrInvalidConfig, s)
		}
	}
	if c.SessionTimeout < time.Millisecond {
		return fmt.Errorf("%w: session timeout must be at least 1ms, got %s", ErrInvalidConfig, c.SessionTimeout)
	}
	if c.SessionTimeout.Milliseconds() > 1<<31-1 {
		return fmt.Errorf("%w: session timeout too large", ErrInvalidConfig)
	}
	if c.ConnectTimeout <= 0 {
		return fmt.Errorf("%w: connect timeout must be positive, got %s", ErrInvalidConfig, c.ConnectTimeout)
	}
	if c.Auth != "" {
		user, pass, ok := strings.Cut(c.Auth, ":")
		if !ok || user == "" || pass == "" {
			// The value is a secret: do not echo it.
			return fmt.Errorf("%w: auth must be \"user:password\"", ErrInvalidConfig)
		}
	}
	return nil
}
