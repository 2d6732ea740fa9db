# What `zkdr dev` runs, as a file: a two-site pair on this machine, on loopback.
# This file is site "east"; the west side is its mirror image (site "west",
# peer "east", ZooKeeper 127.0.0.1:2182, NATS 127.0.0.1:4223). The two NATS
# servers are embedded, with JetStream domains east and west linked by a
# leafnode; the two ZooKeeper servers are standalone.
# Not for production: the credentials are in clear and the journal has one
# replica (see east.hcl and west.hcl for a real pair).

site         = "east"
initial_role = "active"

zookeeper {
  servers         = ["127.0.0.1:2181"]
  session_timeout = "10s"
  # The dev ensembles run with this superDigest user. A real config reads it
  # with env("ZKDR_ZK_AUTH") or file("zk-auth").
  auth = "super:zkdr-dev"
}

nats {
  url    = "nats://127.0.0.1:4222"
  domain = "east"
}

peer "west" {
  zookeeper {
    servers = ["127.0.0.1:2182"]
    auth    = "super:zkdr-dev"
  }
  nats {
    domain = "west"
    url    = "nats://127.0.0.1:4223"
  }
}

journal {
  replicas         = 1
  duplicate_window = "2m"
  sync_always      = true # the embedded servers fsync every append
}

replication {
  include   = ["/"]
  exclude   = ["/zookeeper", "/zkdr"]
  ephemeral = "skip"
}

source {
  heartbeat_interval = "1s"
  snapshot_interval  = "10m"
}

applier {
  # A demo tree is small: let the delete guard trip on small deletions too.
  delete_guard_share     = 0.10
  delete_guard_min_nodes = 10
}

failover {
  max_lag_for_switchover = "5s"
}

metrics {
  listen = "127.0.0.1:9464"
}

log {
  level  = "info"
  format = "text"
}
