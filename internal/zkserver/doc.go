// Package zkserver runs real Apache ZooKeeper servers, as separate java processes,
// for tests, end-to-end runs and the `zkdr dev` demo. It uses the Debian
// `zookeeper` package (/usr/share/java/zookeeper.jar, whose manifest Class-Path
// pulls in jute, netty and slf4j-api; the harness adds slf4j-log4j12 and log4j so
// the server's own log reaches a file).
//
// Each server gets free loopback ports (client, and for ensembles quorum and
// election), its own data directory with myid and zoo.cfg, and a log file
// (server.log) in that directory. Start waits until every server answers the `srvr`
// four-letter word with a Mode, and for an ensemble until one of them is leader.
//
// Processes run in their own process group with Pdeathsig=SIGKILL, so nothing is
// left running if the test binary dies. Kill sends SIGKILL to the group (a crash);
// Stop sends SIGTERM (a clean shutdown); Restart starts the same server again on
// the same ports with the same data.
//
// Useful JavaProps: "zookeeper.forceSync": "no" makes writes much cheaper on a
// loaded machine (a process kill loses nothing that reached the page cache);
// "jute.maxbuffer" raises the largest request and znode size.
package zkserver
