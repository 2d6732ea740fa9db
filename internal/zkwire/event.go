package zkwire

import "github.com/go-zookeeper/zk"

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventNotification is a watch that fired: Type, Path, Zxid.
	EventNotification EventKind = iota + 1
	// EventConnected means connected (or reconnected) and ready: Server,
	// SessionID, NewSession.
	EventConnected
	// EventDisconnected means the connection to Server was lost; in-flight calls
	// have failed with zk.ErrConnectionClosed.
	EventDisconnected
	// EventExpired means the session expired: every watch is gone. A new session
	// follows (EventConnected with NewSession).
	EventExpired
)

func (k EventKind) String() string {
	switch k {
	case EventNotification:
		return "notification"
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventExpired:
		return "expired"
	}
	return "unknown"
}

// Event is a watch notification or a session state change.
type Event struct {
	Kind EventKind
	// Type is the notification's type, in go-zookeeper's values
	// (zk.EventNodeCreated...).
	Type zk.EventType
	Path string
	// Zxid is the notification's reply-header zxid: -1 before ZooKeeper 3.9.
	Zxid       int64
	Server     string
	SessionID  int64
	NewSession bool
}
