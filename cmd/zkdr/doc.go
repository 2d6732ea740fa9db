// Command zkdr keeps a warm standby of an Apache ZooKeeper ensemble in a second
// datacenter, through a NATS JetStream journal.
//
// This package is the command line only: flags, config loading, wiring and
// printing, one file per subcommand. Replication lives in journal and
// replicator; site roles in failover/site, promotion and switchover in
// failover, the site daemon in failover/daemon. main is the only place that
// picks an exit status.
package main
