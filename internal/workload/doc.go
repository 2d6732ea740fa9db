// Package workload drives a ZooKeeper ensemble the way the applications that
// run on ZooKeeper do, for end-to-end tests and benchmarks of zkdr: the primary
// gets the shapes, sizes and rhythms of real trees instead of counters under
// one parent.
//
// The shapes, each under a root of its own below Config.Prefix:
//
//   - Kafka: /brokers/ids/<id> ephemerals, one session per broker (a restart
//     closes the session, so the node goes and comes back); /controller, an
//     ephemeral of the controller broker, and /controller_epoch;
//     /brokers/topics/<t> with its JSON partition assignment and
//     /brokers/topics/<t>/partitions/<p>/state (JSON leader and ISR, rewritten
//     with a version check on every ISR change), created in Multi chunks as
//     the controller does; /config/topics/<t>; /config/changes/config_change_
//     and /isr_change_notification/isr_change_ persistent sequentials, the
//     latter drained by the controller; /admin/delete_topics/<t> followed by
//     the deletion of the topic's subtree (2×partitions+3 znodes).
//   - Curator locks: /locks/<name>/_c_<uuid>-lock- ephemeral sequentials of a
//     few client sessions, acquired and released, and lost all at once when a
//     client's session closes. A lock create that loses its reply is found
//     again by its uuid, as Curator's protected mode does.
//   - Queues: /queues/<name>/qn- persistent sequentials put by producers, in
//     bursts too, and taken (read, then deleted) by consumers.
//   - Service registry: /services/<svc>/<instance> ephemerals with small JSON
//     (Curator service discovery), owned by a few host sessions that restart.
//   - Solr: /collections/<c>/state.json of 10–60 KB rewritten with a version
//     check; /overseer/queue/qn- sequentials that the overseer takes a few at
//     a time before it writes the collection's state.
//
// A Workload is built with New from a Config and starts nothing. Populate
// builds the base tree (about Config.Size znodes, default 2,000, spread over
// the shapes); Run generates a weighted mix of operations (Config.Mix) at
// Config.Rate operations per second until its context ends or Config.Ops
// operations are done; Stats counts them. CreateTopic, DeleteTopic,
// DrainQueue, StopBroker, StartBroker, RestartBroker and Wipe are single
// operations a test calls directly; Wipe deletes every root, as an errant
// `deleteall` would. One operation is one application action: a topic
// creation with 100 partitions is one operation of about 200 creates.
//
// # Determinism
//
// The sequence of operations depends only on Config.Seed and the Config:
// Populate and Run draw every choice (names, sizes, payloads, which lock is
// released, which broker restarts) from generators seeded with it and from a
// model of the tree they keep themselves, never from what the server answers.
// Operations run in lanes, one goroutine per application (Kafka, locks,
// services, Solr, each queue), each lane in generation order; an operation's
// Seq is its place in the sequence, so Record's calls, which come from the
// lanes as the operations end, sort into the same list on every run with the
// same seed.
//
// What varies between two runs from the same seed is what the server decides:
// ephemeral owners (session ids), zxids, ctime and mtime, and the order in
// which the lanes' writes interleave. Sequential suffixes are the parent's
// counter and each parent is written by one lane only, so on a fresh tree they
// come out the same too, unless a request is retried after a lost reply (a
// queue item may then be created twice, as with any ZooKeeper client) or a
// closed session's ephemerals are removed late. Named operations called while
// Run runs change the model the rest of the sequence is drawn from.
//
// # Clients
//
// Like the applications it imitates, the workload treats ErrNodeExists on a
// create and ErrNoNode on a delete as done; an ephemeral that still belongs to
// a session being closed is waited for, as Kafka's broker registration does.
// Requests that fail with a connection loss are retried with exponential
// backoff for up to Config.RetryFor. Parents are persistent nodes (not
// containers, which the server would delete on a timer of its own).
package workload
