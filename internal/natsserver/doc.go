// Package natsserver runs embedded nats-server/v2 servers with JetStream, one per
// site, for tests, end-to-end runs and the `zkdr dev` demo. Each server's JetStream
// domain is its site name; sites are linked by a leafnode connection (StartPairT:
// west is a leaf of east). Restart stops a server and starts a new one on the same
// client and leaf ports with the same store, as a process restart would.
//
// Facts about cross-domain mirrors over a leafnode, checked by this package's tests:
//
//   - Both servers run without accounts, so both sides are the global account $G
//     and the leafnode binds $G to $G. That is all a mirror needs: no
//     DeliverPrefix, no exports or imports. (With separate accounts the leafnode's
//     local account and remote account must be the ones holding the streams.)
//   - When the two ends of a leafnode have different JetStream domains, the server
//     keeps each side's $JS.API.> local, so a client uses jetstream.New(nc) for the
//     JetStream of the server it is connected to, and jetstream.NewWithDomain(nc,
//     "east") to reach the east domain's API across the link (for example to read
//     the origin stream's bounds from the west side).
//   - The mirror is created on the west side (jetstream.New on a west connection)
//     as a stream named like the origin, with Mirror: {Name: "ZKDR_east",
//     External: {APIPrefix: "$JS.east.API"}}. It has no subjects of its own and
//     keeps the origin's sequence numbers, so a sequence means the same on both
//     sides.
//   - It works in both directions: the hub's domain can mirror a stream of the
//     leaf's domain the same way (after a switchover west is the origin), and a
//     client on either side reaches the other side's API with NewWithDomain.
//   - Plain subjects are shared across the link: a publish on the west side to a
//     subject of east's stream is stored and acknowledged by east's stream (the
//     PubAck names stream and domain). Each site's stream therefore needs
//     subjects of its own (zkdr.<site>.journal), never a shared one.
//   - A hub advertises its own leafnode listener address to its leaves, which add
//     it to the URLs they dial. A leaf whose remote is a proxy (or a load balancer)
//     would reconnect around it after a cut; the hub must not advertise
//     (leafnodes { no_advertise: true }, set on every server here) or must
//     advertise the proxy's address.
//   - The mirror catches up by itself after the link is cut and healed and after
//     either server restarts; the leaf reconnects every LeafReconnect (1s by
//     default). After a short cut the mirror's consumer on the origin survives and
//     mirroring resumes as soon as the link is back; after a restart of the mirror's
//     server it resumes at once (the stream recreates its consumer when it starts).
//     After an origin restart (or a cut longer than the consumer's 10s inactivity
//     threshold) the mirror resumes only when its 10s stall check recreates the
//     consumer: 10-20s here. Tests that restart the origin must allow for that.
//   - A paused link (bytes held, connection open) is noticed by the leafnode only
//     when its pings go unanswered: Options.PingInterval (2 minutes by default,
//     settable via Configure) times MaxPingsOut (2). Until then the leaf counts as
//     connected and the mirror just stalls.
//   - A leafnode connection shows in NumLeafNodes a little before JetStream requests
//     are routed across it; WaitDomain and WaitLinked wait for the latter.
package natsserver
