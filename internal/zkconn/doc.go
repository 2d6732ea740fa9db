// Package zkconn opens zkdr's go-zookeeper sessions. Every go-zookeeper dial
// in zkdr goes through Dial: it validates a Config, hands go-zookeeper's log
// lines to the caller's hclog.Logger (NewLogger, the one adapter), adds the
// digest credentials and by default waits for the session. A ReadPool spreads
// bulk reads (a tree walk, ACL reads) over extra sessions beside the caller's.
// Do runs a go-zookeeper call, which takes no context, until its context ends.
//
// The source's own watching session is not a go-zookeeper one: it is spoken
// by internal/zkwire.
package zkconn
