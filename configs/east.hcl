# zkdr site config for "east", one half of a production pair (west.hcl is the
# other half). Both files describe the same pair from each side: this site's
# ZooKeeper ensemble and NATS, and the peer's. Which site is active is decided by
# the site records in the ensembles; initial_role matters only for a brand-new pair.
#
# Secrets never sit in this file: env("NAME") and file("path") read them at load
# time (file() paths are relative to this file), and zkdr never logs them.

site         = "east"
initial_role = "active" # east starts as the active site; west.hcl says "standby"

# This site's ensemble. The source watches it while east is active; the applier
# writes into it while east is standby. zkdr keeps its own state under /zkdr.
zookeeper {
  servers = [
    "zk-1.east.example.net:2181",
    "zk-2.east.example.net:2181",
    "zk-3.east.example.net:2181",
  ]
  session_timeout = "10s"

  # Digest credentials of the ensemble's superDigest user: the applier must be
  # allowed to write every node, whatever its ACL. Set up the ensemble with
  #   -Dzookeeper.DigestAuthenticationProvider.superDigest=zkdr:<base64 sha1 digest>
  # and export ZKDR_ZK_AUTH="zkdr:<password>" in the daemon's environment.
  auth = env("ZKDR_ZK_AUTH")
}

# This site's NATS JetStream cluster. Its JetStream domain is the site name; the
# journal stream ZKDR_east lives here, and the mirror of ZKDR_west when west is
# active.
#
# The two sites' NATS clusters are linked by a leafnode connection. On the west
# servers (the leaf side), nats-server.conf has:
#
#   jetstream { domain: west, store_dir: /var/lib/nats }
#   leafnodes {
#     remotes [{
#       urls: ["nats-leaf://nats-1.east.example.net:7422", "nats-leaf://nats-2.east.example.net:7422"]
#       credentials: "/etc/nats/leaf-west.creds"
#     }]
#   }
#
# and on the east servers:
#
#   jetstream { domain: east, store_dir: /var/lib/nats, sync_interval: always }
#   leafnodes { port: 7422 }
#
# With R3 streams (journal.replicas = 3) an acknowledged append survives the loss
# of one server's disk; sync_interval: always makes each server's copy durable too.
nats {
  url = [
    "tls://nats-1.east.example.net:4222",
    "tls://nats-2.east.example.net:4222",
    "tls://nats-3.east.example.net:4222",
  ]
  domain = "east"
  creds  = "/etc/zkdr/east.creds" # a NATS user allowed $JS.east.API.> and $JS.west.API.>

  tls {
    ca_file = "/etc/zkdr/tls/ca.pem"
  }
}

# The other site. Its ensemble is fenced on promotion and read by status and
# switchover; its JetStream domain is reached through the leafnode link.
peer "west" {
  zookeeper {
    servers = [
      "zk-1.west.example.net:2181",
      "zk-2.west.example.net:2181",
      "zk-3.west.example.net:2181",
    ]
    auth = env("ZKDR_PEER_ZK_AUTH")
  }
  nats {
    domain = "west"
    # Optional direct URL for status and fencing when the leafnode link is down.
    url   = "tls://nats-1.west.example.net:4222"
    creds = "/etc/zkdr/east.creds"
    tls {
      ca_file = "/etc/zkdr/tls/ca.pem"
    }
  }
}

# The journal stream ZKDR_east. Retention is bounded; periodic snapshots
# (source.snapshot_interval) keep replay possible within it.
journal {
  replicas         = 3
  max_age          = "168h" # a week of history for point-in-time replay
  max_bytes        = "50GB"
  duplicate_window = "2m"
  sync_always      = true # the NATS servers run with sync_interval: always
  max_batch_bytes  = "256KB"
  linger           = "5ms"
}

# What is replicated. /zookeeper and /zkdr are always excluded.
replication {
  include   = ["/"]
  exclude   = ["/zookeeper", "/zkdr", "/locks"]
  ephemeral = "skip" # ephemeral nodes belong to sessions, which do not move
}

# The source (while east is active).
source {
  heartbeat_interval   = "1s"
  acl_recheck_interval = "60s"
  snapshot_interval    = "24h" # a fresh snapshot in the journal every day
}

# The applier (while east is standby).
applier {
  max_batch_ops      = 1000
  max_batch_bytes    = "900KB" # under the ensemble's jute.maxbuffer (1 MB)
  delete_guard_share = 0.10    # pause if one batch would delete more than 10% of the tree
  # Kept from a clean stop to the next start, so a restart does not read every
  # node of the standby again (needs "hash" in the standby servers'
  # 4lw.commands.whitelist; see docs/operations.md).
  index_file = "/var/lib/zkdr/applier-index"
}

# Promotion and switchover.
failover {
  max_lag_for_switchover = "5s"

  # Runs with ZKDR_SITE, ZKDR_ROLE, ZKDR_EPOCH and ZKDR_CONNECT set.
  hook "dns" {
    command = ["/usr/local/bin/update-zk-dns", "--zone", "zk.example.net"]
    timeout = "30s"
  }

  active_connect_file = "/run/zkdr/active-connect"
}

# Two daemons per site, one leading; the other takes over if it dies.
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
