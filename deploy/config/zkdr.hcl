# /etc/zkdr/zkdr.hcl: the config of this site's zkdr daemon (zkdr.service runs
# `zkdr run --config /etc/zkdr/zkdr.hcl`). Edit every value marked EDIT; the
# other site's daemon has the same file with the sites' roles swapped. Every
# field is described in /usr/share/doc/zkdr/configuration.md; a pair written out
# in full is in /usr/share/doc/zkdr/examples/east.hcl and west.hcl.
#
# Secrets never sit in this file: env("NAME") reads them from the daemon's
# environment, which systemd fills from /etc/default/zkdr (root-only), and
# file("path") from a file the zkdr user can read. zkdr never logs them.
#
# The daemon reads this file only when it starts: `systemctl restart zkdr`
# after a change.

site         = "east"   # EDIT: this site's name (the peer's config names it in peer "...")
initial_role = "active" # EDIT: "active" on one site, "standby" on the other; used only
                        # before this site's ensemble has a site record

# This site's ensemble: watched by the source while the site is active,
# written by the applier while it is standby.
zookeeper {
  servers = [ # EDIT
    "zk-1.east.example.net:2181",
    "zk-2.east.example.net:2181",
    "zk-3.east.example.net:2181",
  ]
  session_timeout = "10s"

  # The ensemble's superDigest user, "user:password" (ZKDR_ZK_AUTH in
  # /etc/default/zkdr): the applier must be allowed to write every node.
  auth = env("ZKDR_ZK_AUTH")
}

# This site's NATS JetStream; its JetStream domain is the site name.
nats {
  url = [ # EDIT
    "tls://nats-1.east.example.net:4222",
    "tls://nats-2.east.example.net:4222",
    "tls://nats-3.east.example.net:4222",
  ]
  domain = "east" # EDIT: the site name
  creds  = "/etc/zkdr/nats.creds" # EDIT: readable by the zkdr user (root:zkdr 0640)

  tls {
    ca_file = "/etc/zkdr/tls/ca.pem" # EDIT
  }
}

# The other site: its ensemble is read by status and fenced by a promotion; its
# JetStream domain is reached through the leafnode link.
peer "west" { # EDIT: the other site's name
  zookeeper {
    servers = [ # EDIT
      "zk-1.west.example.net:2181",
      "zk-2.west.example.net:2181",
      "zk-3.west.example.net:2181",
    ]
    auth = env("ZKDR_PEER_ZK_AUTH")
  }
  nats {
    domain = "west" # EDIT
  }
}

# This site's journal stream ZKDR_<site>: three replicas on a JetStream cluster
# (see docs/operations.md, durability of the journal).
journal {
  replicas    = 3
  max_age     = "168h"
  max_bytes   = "50GB"
  sync_always = true
}

# A fresh snapshot in the journal every day keeps point-in-time replay possible
# within the retention above.
source {
  heartbeat_interval = "1s"
  snapshot_interval  = "24h"
}

# What is replicated. /zookeeper and /zkdr are always excluded.
replication {
  include   = ["/"]
  exclude   = ["/zookeeper", "/zkdr"]
  ephemeral = "skip"
}

# While standby: the applier keeps its index of the standby here from a clean
# stop (systemctl stop/restart) to the next start, so the start need not read
# every node again. Needs "hash" in 4lw.commands.whitelist of the standby's
# ZooKeeper servers (docs/operations.md, "Warm restart of the applier").
applier {
  index_file = "/var/lib/zkdr/applier-index"
}

# Role changes rewrite this file with the active site's connect string
# (zkdr.service provides /run/zkdr).
failover {
  active_connect_file = "/run/zkdr/active-connect"
}

# Set to true when this site runs two or more daemons (one leads).
ha {
  election = false
}

# /metrics and /healthz, scraped by Prometheus (job "zkdr"; rules and a
# Grafana dashboard in /usr/share/doc/zkdr/examples/).
metrics {
  listen = "0.0.0.0:9464"
}

log {
  level = "info"
}
