# zkdr site config for "west", the other half of the pair in east.hcl. The same
# schema and the same daemon: what it does follows the site record's role.
# While west is standby its daemon applies the local mirror of ZKDR_east into
# west's ensemble; after a promotion it becomes the source of ZKDR_west.

site         = "west"
initial_role = "standby" # used only before west's ensemble has a site record

# This site's ensemble: written by the applier while west is standby.
zookeeper {
  servers = [
    "zk-1.west.example.net:2181",
    "zk-2.west.example.net:2181",
    "zk-3.west.example.net:2181",
  ]
  session_timeout = "10s"

  # The superDigest user of west's ensemble (see east.hcl).
  auth = env("ZKDR_ZK_AUTH")

  # TTL nodes replicate only if this ensemble runs with
  # zookeeper.extendedTypesEnabled=true; zkdr checks at start.
}

# This site's NATS JetStream cluster, domain "west". It is the leaf side of the
# link between the sites; its nats-server.conf (see east.hcl for the hub side):
#
#   jetstream { domain: west, store_dir: /var/lib/nats, sync_interval: always }
#   leafnodes {
#     remotes [{
#       urls: ["nats-leaf://nats-1.east.example.net:7422", "nats-leaf://nats-2.east.example.net:7422"]
#       credentials: "/etc/nats/leaf-west.creds"
#     }]
#   }
#
# The mirror of ZKDR_east is kept here, so everything that crossed the WAN is
# still on this side when east is gone and is drained before promotion.
nats {
  url = [
    "tls://nats-1.west.example.net:4222",
    "tls://nats-2.west.example.net:4222",
    "tls://nats-3.west.example.net:4222",
  ]
  domain = "west"
  creds  = "/etc/zkdr/west.creds"

  tls {
    ca_file = "/etc/zkdr/tls/ca.pem"
  }
}

peer "east" {
  zookeeper {
    servers = [
      "zk-1.east.example.net:2181",
      "zk-2.east.example.net:2181",
      "zk-3.east.example.net:2181",
    ]
    auth = env("ZKDR_PEER_ZK_AUTH")
  }
  nats {
    domain = "east"
    url    = "tls://nats-1.east.example.net:4222"
    creds  = "/etc/zkdr/west.creds"
    tls {
      ca_file = "/etc/zkdr/tls/ca.pem"
    }
  }
}

# Used when west becomes active (ZKDR_west); the mirror of ZKDR_east follows the
# limits of its origin stream.
journal {
  replicas         = 3
  max_age          = "168h"
  max_bytes        = "50GB"
  duplicate_window = "2m"
  sync_always      = true
  max_batch_bytes  = "256KB"
  linger           = "5ms"
}

# Must match east.hcl: the scope is the same in both directions.
replication {
  include   = ["/"]
  exclude   = ["/zookeeper", "/zkdr", "/locks"]
  ephemeral = "skip"
}

source {
  heartbeat_interval   = "1s"
  acl_recheck_interval = "60s"
  snapshot_interval    = "24h"
}

applier {
  max_batch_ops      = 1000
  max_batch_bytes    = "900KB"
  delete_guard_share = 0.10
  index_file         = "/var/lib/zkdr/applier-index"
}

failover {
  max_lag_for_switchover = "5s"

  hook "dns" {
    command = ["/usr/local/bin/update-zk-dns", "--zone", "zk.example.net"]
    timeout = "30s"
  }

  active_connect_file = "/run/zkdr/active-connect"
}

ha {
  election = true
}

metrics {
  listen = "0.0.0.0:9464"
}

log {
  level  = "info"
  format = "json"
}
