package client

import "net"

// The first bytes a ZooKeeper client sends on a new connection are its
// ConnectRequest, framed by a 4-byte length:
//
//	int32 length | int32 protocolVersion | int64 lastZxidSeen | int32 timeOut |
//	int64 sessionId | buffer passwd | [bool readOnly]
//
// lastZxidSeen is at byte offsets 8..15 of the stream.
const (
	lastZxidStart = 8
	lastZxidEnd   = 16
)

// freshSessionConn clears lastZxidSeen in the connect request written through
// it and passes everything else through unchanged. The session id is kept: the
// other ensemble does not know it and answers "expired", which is exactly what
// makes go-zookeeper reset its state and open a new session there. Without the
// zxid cleared the server would refuse the request before looking at the
// session ("client must try another server"), and go-zookeeper would retry
// forever.
type freshSessionConn struct {
	net.Conn
	written int // bytes written so far, up to lastZxidEnd
}

func newFreshSessionConn(c net.Conn) *freshSessionConn { return &freshSessionConn{Conn: c} }

func (c *freshSessionConn) Write(p []byte) (int, error) {
	if c.written >= lastZxidEnd {
		return c.Conn.Write(p)
	}
	lo := min(max(lastZxidStart-c.written, 0), len(p))
	hi := min(lastZxidEnd-c.written, len(p))
	if lo < hi {
		q := make([]byte, len(p))
		copy(q, p)
		clear(q[lo:hi])
		p = q
	}
	n, err := c.Conn.Write(p)
	c.written += n
	return n, err
}
