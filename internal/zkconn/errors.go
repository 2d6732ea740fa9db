package zkconn

import "errors"

// Sentinel errors of package zkconn. Wrap them with %w; test with errors.Is.
var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("zkconn: invalid config")
	// ErrConnect means no ZooKeeper session could be established.
	ErrConnect = errors.New("zkconn: connect to zookeeper")
)
