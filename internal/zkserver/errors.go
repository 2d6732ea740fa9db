package zkserver

import "errors"

// Installation errors say exactly what to run; they carry no package prefix because
// they are printed to people as they are.
var (
	// ErrZooKeeperNotInstalled means /usr/share/java/zookeeper.jar is missing.
	ErrZooKeeperNotInstalled = errors.New("ZooKeeper not installed: run `apt-get update && apt-get install -y zookeeper`")
	// ErrJavaNotInstalled means no java binary is on PATH (the zookeeper package
	// depends on a Java runtime, so installing it brings one).
	//lint:ignore ST1005 printed to people as is
	ErrJavaNotInstalled = errors.New("Java not installed: run `apt-get update && apt-get install -y zookeeper`")
)

var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("zkserver: invalid config")
	// ErrNoLeader means no running server reports itself as leader.
	ErrNoLeader = errors.New("zkserver: no leader")
	// ErrBadIndex means a server index outside 0..Servers-1.
	ErrBadIndex = errors.New("zkserver: no such server")
	// ErrRunning means Restart was called on a server that is still running.
	ErrRunning = errors.New("zkserver: server is running")
	// ErrClosed means the cluster was closed.
	ErrClosed = errors.New("zkserver: cluster closed")
	// ErrNotServing means a server did not start serving in time.
	ErrNotServing = errors.New("zkserver: server not serving")
	// ErrExited means a server process exited while the harness waited for it.
	ErrExited = errors.New("zkserver: server process exited")
)
