package workload

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/go-zookeeper/zk"
)

// A request that failed on a dying connection is tried again; what the server
// answered is not.
func TestRetryable(t *testing.T) {
	reset := &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
	for err, want := range map[error]bool{
		fmt.Errorf("set: %w", reset):                  true,
		fmt.Errorf("set: %w", zk.ErrConnectionClosed): true,
		fmt.Errorf("set: %w", zk.ErrNoNode):           false,
		errors.New("something else"):                  false,
	} {
		if got := retryable(err); got != want {
			t.Errorf("retryable(%v) = %v, want %v", err, got, want)
		}
	}
}
