package client

import "net"

// fakeConn is a net.Conn that does nothing; embed it and override what a test needs.
type fakeConn struct{ net.Conn }
