// Package zkwire speaks ZooKeeper's client protocol (jute over TCP) for the one
// session zkdr's source needs: a session holding a PERSISTENT_RECURSIVE watch
// (addWatch, opcode 106, ZooKeeper 3.6+) and reading nodes with many requests
// pipelined in a strict order, including multiRead (opcode 22). go-zookeeper
// v1.0.4, which the rest of zkdr uses and whose exported types (zk.Stat,
// zk.ACL, zk.EventType, error values) this package keeps, has neither request.
// Only the requests that session makes are implemented: getData, exists,
// getChildren2, getACL, multiRead, addWatch, setData, create, sync, plus the
// session's own connect, ping, addAuth, setWatches2 and closeSession.
//
// # Ordering
//
// Every request method queues its request and returns a Call at once. One
// queue feeds one writer goroutine, which writes requests in exactly the order
// the methods were called (through a bufio.Writer flushed when the queue runs
// empty), so a caller issuing from one goroutine gets ZooKeeper's per-session
// FIFO order: replies, matched by xid, come back in that order, and a watch
// notification is delivered (Config.OnEvent) before the reply of any request
// the server answered after the change that fired it. A Call's Zxid is its
// reply header's zxid.
//
// # Reconnects
//
// When a connection is lost, in-flight calls fail with zk.ErrConnectionClosed
// (the caller retries them; they may or may not have run), EventDisconnected
// is emitted, and the Conn reconnects in the background to the next server,
// backing off up to a second between attempts, forever until Close. Calls made
// while disconnected wait in the queue and are sent once the new connection is
// ready. On each connect the client sends Config.Auth (addAuth) and, when the
// server kept the session, the persistent watches that succeeded (setWatches2,
// split under 128 KB of paths per request), before any queued request; then it
// emits EventConnected. A server that refuses Auth on a later reconnect is
// logged and retried like an unreachable one (only Dial fails on it).
//
// ZooKeeper does not replay what a persistent watch missed while the client was
// disconnected: setWatches2 only re-registers it. Changes made during the
// outage produce no notification, so after EventConnected the caller catches up
// by reading (for zkdr's source: a resync of the watched subtree).
//
// If the server reports the session expired, EventExpired is emitted, every
// persistent watch is forgotten (the server dropped them), and a new session
// is made at once (EventConnected with NewSession). Queued calls then run in
// the new session; nothing is re-registered.
//
// # Servers that refuse persistent watches
//
// A server older than 3.6 answers addWatch and multiRead with code -6, which
// fails the call with ErrUnimplemented (go-zookeeper v1.0.4 exports no value for
// it). A 3.6+ server started with
// -Dzookeeper.watchManagerName=org.apache.zookeeper.server.watch.WatchManagerOptimized
// cannot hold persistent watches: its watch manager throws
// UnsupportedOperationException, which the server logs and answers, for both
// modes, with code -5 (MarshallingError). The call fails with a *ServerError
// whose Code is -5 (errors.Is(err, zk.ErrUnknown) holds); the connection and
// session stay usable, and the watch is not remembered.
//
// # Authentication
//
// Config.Auth is a digest "user:password". ZooKeeper's digest provider accepts
// any such pair, because it only names an identity: a wrong password connects
// and then gets zk.ErrNoAuth on nodes it may not touch. The server refuses the
// auth (ErrAuthFailed) only when the digest scheme is unavailable, for example
// with -Dzookeeper.DigestAuthenticationProvider.enabled=false. The credential
// never appears in a log line or an error.
//
// # Limits
//
// Frames above 64 MiB are a protocol error; every length inside a frame is
// checked against the bytes that remain before anything is allocated. An
// undecodable frame drops the connection (ErrProtocol) and a new one is made.
//
// # Goroutines
//
// A Conn runs a lifecycle goroutine for its whole life, and a reader and a
// writer goroutine per connection; there is no goroutine per request. Close
// sends closeSession, waits for its answer while replies keep arriving (at
// most the session timeout), closes the socket, fails every outstanding call
// with zk.ErrClosing, and returns after all of them have exited.
package zkwire
