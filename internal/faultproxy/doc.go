// Package faultproxy is a TCP proxy for fault tests: put it between two processes
// (a NATS leaf and its hub, a client and ZooKeeper) and cut, pause or slow the link.
//
//   - Cut closes every proxied connection and refuses new ones (accepted, then
//     closed at once) until Heal: what a peer sees when a WAN link drops.
//   - Pause keeps connections open but moves no bytes until Resume: a link that
//     hangs without resetting, so only timeouts notice.
//   - SetLatency delays every chunk of bytes by d in both directions, without
//     limiting throughput (chunks in flight are pipelined).
//
// Every goroutine belongs to the Proxy; Close returns after all of them have ended.
package faultproxy
