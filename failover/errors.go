package failover

import "errors"

// Sentinel errors of package failover. Callers test them with errors.Is.
var (
	// ErrInvalidConfig means a Config failed validation.
	ErrInvalidConfig = errors.New("failover: invalid config")
	// ErrHookFailed means a role-change hook exited non-zero, timed out or could
	// not be started; the *HookError says which.
	ErrHookFailed = errors.New("failover: hook failed")
)
