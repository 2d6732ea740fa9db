package configs

import (
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// This file is the HCL schema: which arguments and blocks each block takes and
// which Config field each one fills. docs/configuration.md is its reference.

func (d *decoder) root(b *hclsyntax.Body, c *Config) {
	bd := d.open(b, "",
		[]string{"site", "initial_role"},
		[]string{"zookeeper", "nats", "peer", "journal", "replication", "source", "applier", "anti_entropy", "failover", "ha", "metrics", "log"})
	bd.str("site", &c.Site)
	role := string(c.InitialRole)
	bd.str("initial_role", &role)
	c.InitialRole = Role(role)

	if blk := bd.single("zookeeper"); blk != nil {
		d.zookeeper(blk.Body, "zookeeper", &c.ZooKeeper)
	}
	if blk := bd.single("nats"); blk != nil {
		d.nats(blk.Body, "nats", &c.NATS)
	}
	d.peer(bd, &c.Peer)
	if blk := bd.single("journal"); blk != nil {
		d.journal(blk.Body, &c.Journal)
	}
	if blk := bd.single("replication"); blk != nil {
		d.replication(blk.Body, &c.Replication)
	}
	if blk := bd.single("source"); blk != nil {
		s := d.open(blk.Body, "source",
			[]string{"heartbeat_interval", "acl_recheck_interval", "snapshot_interval", "snapshot_every_events", "watch"}, nil)
		s.duration("heartbeat_interval", &c.Source.HeartbeatInterval)
		s.duration("acl_recheck_interval", &c.Source.ACLRecheckInterval)
		s.duration("snapshot_interval", &c.Source.SnapshotInterval)
		s.integer("snapshot_every_events", &c.Source.SnapshotEveryEvents)
		s.str("watch", &c.Source.Watch)
	}
	if blk := bd.single("applier"); blk != nil {
		a := d.open(blk.Body, "applier",
			[]string{"max_batch_ops", "max_batch_bytes", "delete_guard_share", "delete_guard_min_nodes", "delete_guard_window", "index_file"}, []string{"guard_hook"})
		a.intField("max_batch_ops", &c.Applier.MaxBatchOps)
		a.byteSizeInt("max_batch_bytes", &c.Applier.MaxBatchBytes)
		a.float("delete_guard_share", &c.Applier.DeleteGuardShare)
		a.intField("delete_guard_min_nodes", &c.Applier.DeleteGuardMinNodes)
		a.duration("delete_guard_window", &c.Applier.DeleteGuardWindow)
		a.str("index_file", &c.Applier.IndexFile)
		c.Applier.GuardHooks = d.hooks(a, "guard_hook", "applier.guard_hook")
	}
	if blk := bd.single("anti_entropy"); blk != nil {
		a := d.open(blk.Body, "anti_entropy", []string{"interval", "reads_per_second"}, nil)
		a.duration("interval", &c.AntiEntropy.Interval)
		a.intField("reads_per_second", &c.AntiEntropy.ReadsPerSecond)
	}
	if blk := bd.single("failover"); blk != nil {
		d.failover(blk.Body, &c.Failover)
	}
	if blk := bd.single("ha"); blk != nil {
		h := d.open(blk.Body, "ha", []string{"election", "node_id"}, nil)
		h.boolean("election", &c.HA.Election)
		h.str("node_id", &c.HA.NodeID)
	}
	if blk := bd.single("metrics"); blk != nil {
		m := d.open(blk.Body, "metrics", []string{"listen"}, nil)
		m.str("listen", &c.Metrics.Listen)
	}
	if blk := bd.single("log"); blk != nil {
		l := d.open(blk.Body, "log", []string{"level", "format"}, nil)
		l.str("level", &c.Log.Level)
		l.str("format", &c.Log.Format)
	}
}

func (d *decoder) zookeeper(b *hclsyntax.Body, prefix string, z *ZooKeeper) {
	bd := d.open(b, prefix, []string{"servers", "session_timeout", "auth", "chroot"}, nil)
	bd.strList("servers", &z.Servers)
	bd.duration("session_timeout", &z.SessionTimeout)
	bd.secret("auth", &z.Auth)
	bd.str("chroot", &z.Chroot)
}

func (d *decoder) nats(b *hclsyntax.Body, prefix string, n *NATS) {
	bd := d.open(b, prefix, []string{"url", "domain", "creds", "user", "password", "token"}, []string{"tls"})
	bd.strOrList("url", &n.URLs)
	bd.str("domain", &n.Domain)
	bd.path("creds", &n.Creds)
	bd.str("user", &n.User)
	bd.secret("password", &n.Password)
	bd.secret("token", &n.Token)
	if blk := bd.single("tls"); blk != nil {
		t := d.open(blk.Body, bd.field("tls"), []string{"ca_file", "cert_file", "key_file"}, nil)
		t.path("ca_file", &n.TLS.CAFile)
		t.path("cert_file", &n.TLS.CertFile)
		t.path("key_file", &n.TLS.KeyFile)
	}
}

// peer decodes the one peer block. Its zookeeper and nats blocks take the same
// fields as the site's own, so the daemon connects to both sites the same way.
func (d *decoder) peer(root *body, p *Peer) {
	blks := root.blocks("peer", 1)
	if len(blks) == 0 {
		return
	}
	first := blks[0]
	for _, dup := range blks[1:] {
		d.fail(dup.LabelRanges[0], "peer."+dup.Labels[0], ErrDuplicate,
			"duplicate peer block: exactly one peer is allowed (first is %q at %s)", first.Labels[0], shortPos(first.TypeRange))
	}
	p.Name = first.Labels[0]
	prefix := "peer." + p.Name
	d.pos["peer"] = first.LabelRanges[0]
	if p.Name == "" {
		d.fail(first.LabelRanges[0], "peer", ErrInvalid, "the peer block's label is the peer's site name and must not be empty")
	}
	d.pos[prefix] = first.DefRange()
	bd := d.open(first.Body, prefix, nil, []string{"zookeeper", "nats"})
	if blk := bd.single("zookeeper"); blk != nil {
		d.zookeeper(blk.Body, bd.field("zookeeper"), &p.ZooKeeper)
	}
	if blk := bd.single("nats"); blk != nil {
		d.nats(blk.Body, bd.field("nats"), &p.NATS)
	}
}

func (d *decoder) journal(b *hclsyntax.Body, j *Journal) {
	bd := d.open(b, "journal", []string{"replicas", "max_age", "max_bytes", "max_msgs",
		"duplicate_window", "sync_always", "max_batch_bytes", "linger"}, nil)
	bd.intField("replicas", &j.Replicas)
	bd.duration("max_age", &j.MaxAge)
	bd.byteSize("max_bytes", &j.MaxBytes)
	bd.integer("max_msgs", &j.MaxMsgs)
	bd.duration("duplicate_window", &j.DuplicateWindow)
	bd.boolean("sync_always", &j.SyncAlways)
	bd.byteSizeInt("max_batch_bytes", &j.MaxBatchBytes)
	bd.duration("linger", &j.Linger)
}

func (d *decoder) replication(b *hclsyntax.Body, r *Replication) {
	bd := d.open(b, "replication", []string{"include", "exclude", "ephemeral"}, []string{"mapping", "mode"})
	bd.strList("include", &r.Include)
	bd.strList("exclude", &r.Exclude)
	mode := string(r.Ephemeral)
	bd.str("ephemeral", &mode)
	r.Ephemeral = EphemeralMode(mode)
	if blk := bd.single("mapping"); blk != nil {
		m := d.open(blk.Body, "replication.mapping", []string{"from", "to"}, nil)
		r.Mapping = &Mapping{}
		m.str("from", &r.Mapping.From)
		m.str("to", &r.Mapping.To)
	}
	seen := map[string]string{}
	for _, blk := range bd.blocks("mode", 1) {
		pattern := blk.Labels[0]
		prefix := "replication.mode." + pattern
		if first, ok := seen[pattern]; ok {
			d.fail(blk.LabelRanges[0], prefix, ErrDuplicate, "duplicate mode rule %q (first at %s)", pattern, first)
			continue
		}
		seen[pattern] = shortPos(blk.TypeRange)
		d.pos[prefix] = blk.DefRange()
		rule := ModeRule{Pattern: pattern}
		mb := d.open(blk.Body, prefix, []string{"kind", "ttl"}, nil)
		kind := ""
		mb.str("kind", &kind)
		rule.Kind = NodeKind(kind)
		mb.duration("ttl", &rule.TTL)
		r.Modes = append(r.Modes, rule)
	}
}

func (d *decoder) failover(b *hclsyntax.Body, f *Failover) {
	bd := d.open(b, "failover", []string{"max_lag_for_switchover", "active_connect_file"}, []string{"hook"})
	bd.duration("max_lag_for_switchover", &f.MaxLagForSwitchover)
	bd.path("active_connect_file", &f.ActiveConnectFile)
	f.Hooks = d.hooks(bd, "hook", "failover.hook")
}

// hooks decodes the named hook blocks of type typ; prefix names them in errors.
func (d *decoder) hooks(bd *body, typ, prefix string) []Hook {
	var out []Hook
	seen := map[string]string{}
	for _, blk := range bd.blocks(typ, 1) {
		name := blk.Labels[0]
		at := prefix + "." + name
		if name == "" {
			d.fail(blk.LabelRanges[0], prefix, ErrInvalid, "a hook's label is its name and must not be empty")
			continue
		}
		if first, ok := seen[name]; ok {
			d.fail(blk.LabelRanges[0], at, ErrDuplicate, "duplicate hook %q (first at %s)", name, first)
			continue
		}
		seen[name] = shortPos(blk.TypeRange)
		d.pos[at] = blk.DefRange()
		h := Hook{Name: name, Timeout: DefaultHookTimeout}
		hb := d.open(blk.Body, at, []string{"command", "timeout"}, nil)
		hb.strList("command", &h.Command)
		hb.duration("timeout", &h.Timeout)
		out = append(out, h)
	}
	return out
}
