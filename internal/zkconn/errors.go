package zkconn

import "errors"

// Sentinel errors of package zkconn. Wrap them with %w; test with errors.Is.
var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("zkconn: invalid config")
	// ErrConnect means no ZooKeeper session could be established.
	ErrConnect = errors.New("zkconn: connect to zookeeper")
)

// ErrDigestUnavailable means the server cannot tell its tree digest: it is
// older than 3.6, runs with zookeeper.digest.enabled=false, or refuses the
// srvr or hash four-letter words.
var ErrDigestUnavailable = errors.New("zkconn: tree digest unavailable")
