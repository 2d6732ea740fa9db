package daemon

import "errors"

// Sentinel errors of package daemon. Callers test them with errors.Is.
var (
	// ErrInvalidConfig means a HooksConfig or an AntiEntropyConfig failed
	// validation.
	ErrInvalidConfig = errors.New("daemon: invalid config")
	// ErrHookFailed means a role-change hook exited non-zero, timed out or could
	// not be started; the *HookError says which.
	ErrHookFailed = errors.New("daemon: hook failed")
)
