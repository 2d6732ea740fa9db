package client

import "errors"

// Sentinel errors of package client. Callers test them with errors.Is.
var (
	// ErrInvalidConfig means a ClientConfig or MonitorConfig failed
	// validation, or a server belongs to no configured site.
	ErrInvalidConfig = errors.New("client: invalid config")
)
