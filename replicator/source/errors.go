package source

import "errors"

// Sentinel errors of package source. Wrap them with %w; test with errors.Is.
// New sentinels are appended at the end of this block.
var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("source: invalid config")
	// ErrPublish wraps a Publisher error; it is permanent for the source.
	ErrPublish = errors.New("source: publish event")
	// ErrRead wraps a ZooKeeper read that failed in a way a retry cannot mend
	// (for example a node the source's identity may not read).
	ErrRead = errors.New("source: read znode")
	// ErrConnect means no ZooKeeper session could be established.
	ErrConnect = errors.New("source: connect to zookeeper")
	// ErrNoRecursiveWatch means the active ensemble refused a persistent
	// recursive watch (ZooKeeper before 3.6, or a server whose watch manager
	// is WatchManagerOptimized) and the source's Watch mode requires one.
	ErrNoRecursiveWatch = errors.New("source: zookeeper refused a persistent recursive watch")
)
