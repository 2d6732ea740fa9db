package natsserver

import "errors"

var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("natsserver: invalid config")
	// ErrNotReady means the server did not accept connections in time.
	ErrNotReady = errors.New("natsserver: server not ready")
	// ErrShutdown means the server was shut down.
	ErrShutdown = errors.New("natsserver: server shut down")
)
