package source

import (
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/go-zookeeper/zk"
)

func TestTransient(t *testing.T) {
	reset := &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
	for _, err := range []error{
		zk.ErrConnectionClosed,
		zk.ErrSessionExpired,
		reset, // what go-zookeeper hands a request whose write failed
		fmt.Errorf("children /a: %w", reset),
	} {
		if !transient(err) {
			t.Errorf("%v: not transient, want a retry", err)
		}
	}
	for _, err := range []error{zk.ErrNoAuth, zk.ErrBadArguments, fmt.Errorf("decode: %w", zk.ErrInvalidACL)} {
		if transient(err) {
			t.Errorf("%v: transient, want it reported", err)
		}
	}
}
