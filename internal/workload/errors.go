package workload

import (
	"errors"
	"fmt"
	"net"

	"github.com/go-zookeeper/zk"
)

var (
	// ErrInvalidConfig means a Config that cannot run.
	ErrInvalidConfig = errors.New("workload: invalid config")
	// ErrNotPopulated means Run was called before Populate (or after Wipe).
	ErrNotPopulated = errors.New("workload: not populated")
	// ErrRunning means Run or Populate was called while Run runs.
	ErrRunning = errors.New("workload: already running")
	// ErrClosed means the Workload was closed.
	ErrClosed = errors.New("workload: closed")
	// ErrUnknownTopic names a topic that does not exist.
	ErrUnknownTopic = errors.New("workload: unknown topic")
	// ErrTopicExists names a topic that exists already.
	ErrTopicExists = errors.New("workload: topic exists")
	// ErrUnknownQueue names a queue the workload does not have.
	ErrUnknownQueue = errors.New("workload: unknown queue")
	// ErrUnknownBroker names a broker id the workload does not have.
	ErrUnknownBroker = errors.New("workload: unknown broker")
)

// OpError is an operation that failed after its retries.
type OpError struct {
	Kind Kind
	Path string // the znode the failing request was about
	Err  error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("workload: %s %s: %v", e.Kind, e.Path, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Retryable reports whether the operation failed on the connection (the
// ensemble was unreachable for longer than Config.RetryFor) rather than on
// the tree.
func (e *OpError) Retryable() bool { return retryable(e.Err) }

// retryable is a failure of the connection or the session, after which the
// same request may succeed. ErrClosing comes from a session this workload is
// restarting; the next attempt takes the new one (or ErrClosed, which is not
// retried). A request whose write to a dying connection failed comes back with
// that socket error itself.
func retryable(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrSessionMoved) ||
		errors.Is(err, zk.ErrClosing) ||
		errors.Is(err, errOwnedByOther)
}

// errOwnedByOther: an ephemeral this session wants to create still belongs to
// an earlier session (one being closed, or expiring).
var errOwnedByOther = errors.New("workload: ephemeral still owned by an earlier session")
