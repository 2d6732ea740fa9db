package failover

import "errors"

// Sentinel errors of package failover: promotion, switchover and rejoin.
// Callers test them with errors.Is.
var (
	// ErrPeerActive means promote was refused because the peer is reachable
	// and active: a planned move is a switchover; --force overrides.
	ErrPeerActive = errors.New("failover: peer site is reachable and active")
	// ErrAlreadyActive means the site to promote is already the active one.
	ErrAlreadyActive = errors.New("failover: site is already active")
	// ErrDrainTimeout means the local mirror was not applied to its end in time.
	ErrDrainTimeout = errors.New("failover: mirror not drained in time")
	// ErrPreflight means a switchover's preflight failed; nothing was changed.
	ErrPreflight = errors.New("failover: switchover preflight failed")
	// ErrFlushTimeout means the fenced site's last heartbeat was not applied on
	// the standby in time.
	ErrFlushTimeout = errors.New("failover: fenced site's last heartbeat not applied in time")
)
