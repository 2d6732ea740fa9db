package zkwire

import (
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("zkwire: invalid config")
	// ErrAuthFailed means the server refused the digest credentials of
	// Config.Auth. Errors that wrap it also wrap zk.ErrAuthFailed.
	ErrAuthFailed = errors.New("zkwire: authentication failed")
	// ErrProtocol means a frame could not be decoded (a bad length, a truncated
	// record, a reply to no request). The connection is dropped and made again.
	ErrProtocol = errors.New("zkwire: protocol error")
	// ErrUnimplemented is the server's "unimplemented" answer (code -6), for
	// example a server older than 3.6 asked for addWatch or multiRead.
	// go-zookeeper v1.0.4 exports no value for that code.
	ErrUnimplemented = errors.New("zkwire: operation unimplemented by server")
)

// authError wraps both ErrAuthFailed and zk.ErrAuthFailed, so callers that only
// know go-zookeeper's value still recognise it.
type authError struct{}

func (authError) Error() string { return ErrAuthFailed.Error() }

func (authError) Unwrap() []error { return []error{ErrAuthFailed, zk.ErrAuthFailed} }

// Server error codes, as ZooKeeper's KeeperException.Code numbers them.
const (
	codeOK               = 0
	codeMarshalling      = -5
	codeUnimplemented    = -6
	codeBadArguments     = -8
	codeAPIError         = -100
	codeNoNode           = -101
	codeNoAuth           = -102
	codeBadVersion       = -103
	codeNoChildrenForEph = -108
	codeNodeExists       = -110
	codeNotEmpty         = -111
	codeSessionExpired   = -112
	codeInvalidACL       = -114
	codeAuthFailed       = -115
	codeClosing          = -116
	codeNothing          = -117
	codeSessionMoved     = -118
	codeReconfigDisabled = -123
)

// codeErrors maps the codes a caller can act on to go-zookeeper's exported
// values, so code elsewhere in zkdr compares errors the same way for both clients.
var codeErrors = map[int32]error{
	codeUnimplemented:    ErrUnimplemented,
	codeBadArguments:     zk.ErrBadArguments,
	codeAPIError:         zk.ErrAPIError,
	codeNoNode:           zk.ErrNoNode,
	codeNoAuth:           zk.ErrNoAuth,
	codeBadVersion:       zk.ErrBadVersion,
	codeNoChildrenForEph: zk.ErrNoChildrenForEphemerals,
	codeNodeExists:       zk.ErrNodeExists,
	codeNotEmpty:         zk.ErrNotEmpty,
	codeSessionExpired:   zk.ErrSessionExpired,
	codeInvalidACL:       zk.ErrInvalidACL,
	codeAuthFailed:       zk.ErrAuthFailed,
	codeClosing:          zk.ErrClosing,
	codeNothing:          zk.ErrNothing,
	codeSessionMoved:     zk.ErrSessionMoved,
	codeReconfigDisabled: zk.ErrReconfigDisabled,
}

// codeError is the error for a reply header's err field: nil for 0, zk.ErrUnknown
// for a code without a value of its own.
func codeError(code int32) error {
	if code == codeOK {
		return nil
	}
	if err, ok := codeErrors[code]; ok {
		return err
	}
	return &ServerError{Code: code}
}

// ServerError is a server error code without a value of its own in
// go-zookeeper. It is zk.ErrUnknown for errors.Is, and keeps the code: a
// server that cannot run a request at all (for example addWatch on a server
// whose watch manager refuses persistent watches) answers -5, MarshallingError.
type ServerError struct {
	Code int32
}

func (e *ServerError) Error() string { return fmt.Sprintf("zkwire: server error %d", e.Code) }

// Unwrap makes errors.Is(err, zk.ErrUnknown) hold.
func (e *ServerError) Unwrap() error { return zk.ErrUnknown }
