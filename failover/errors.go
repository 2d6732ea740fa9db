package failover

import "errors"

// Sentinel errors of package failover. Callers test them with errors.Is.
var (
	// ErrNoRecord means the ensemble has no site record (/zkdr/site) yet.
	ErrNoRecord = errors.New("failover: no site record")
	// ErrInvalidRecord means a site record could not be decoded or is not
	// well-formed (empty site, unknown role).
	ErrInvalidRecord = errors.New("failover: invalid site record")
	// ErrVersionConflict means the site record changed since it was read: another
	// writer won the compare-and-set. Re-read and decide again.
	ErrVersionConflict = errors.New("failover: site record changed concurrently")
	// ErrEpochRegression means a write would lower the epoch of a site record.
	ErrEpochRegression = errors.New("failover: epoch regression")
	// ErrSiteMismatch means a site record names another site than the one
	// configured for the ensemble (a config that points at the wrong ensemble).
	ErrSiteMismatch = errors.New("failover: site record names another site")
	// ErrInvalidConfig means a Config failed validation.
	ErrInvalidConfig = errors.New("failover: invalid config")
	// ErrNotActive means a connection to a server of a site that is not the
	// active one was refused.
	ErrNotActive = errors.New("failover: site is not active")
	// ErrHookFailed means a role-change hook exited non-zero, timed out or could
	// not be started; the *HookError says which.
	ErrHookFailed = errors.New("failover: hook failed")
)
