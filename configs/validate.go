package configs

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// maxNameLen bounds site names, domains and node ids: they end up in stream
// names, subjects and znode names.
const maxNameLen = 64

// Validate checks every field and returns Errors listing each problem, or nil.
// For a Config from Load or Parse, each error names the file and line of the
// offending value (or of the enclosing block, for a missing field). Messages
// never contain a secret.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.top()
	v.zookeeper("zookeeper", c.ZooKeeper)
	v.nats("nats", c.NATS, true)
	v.peer()
	v.journal()
	v.replication()
	v.modeRules()
	v.source()
	v.applier()
	v.antiEntropy()
	v.retention()
	v.failover()
	v.ha()
	v.metricsAndLog()
	return v.errs.errOrNil()
}

type validator struct {
	c    *Config
	errs Errors
}

// fail records an error for field at the position of the field's value or,
// when the field was not written, of the nearest enclosing block.
func (v *validator) fail(field string, sentinel error, format string, args ...any) {
	e := &Error{File: v.c.File(), Field: field, Message: fmt.Sprintf(format, args...), Err: sentinel}
	if r, ok := v.lookup(field); ok {
		e.Line, e.Column = r.Start.Line, r.Start.Column
	}
	v.errs = append(v.errs, e)
}

func (v *validator) lookup(field string) (hcl.Range, bool) {
	if v.c.src == nil {
		return hcl.Range{}, false
	}
	for {
		if r, ok := v.c.src.pos[field]; ok {
			return r, true
		}
		if field == "" {
			return hcl.Range{}, false
		}
		i := strings.LastIndexByte(field, '.')
		if i < 0 {
			field = ""
		} else {
			field = field[:i]
		}
	}
}

func (v *validator) required(field string, set bool) bool {
	if !set {
		v.fail(field, ErrMissing, "is required")
	}
	return set
}

func (v *validator) name(field, s string) {
	if len(s) > maxNameLen {
		v.fail(field, ErrInvalid, "%q is longer than %d characters", s, maxNameLen)
		return
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			v.fail(field, ErrInvalid, "%q may hold only letters, digits, - and _ (it names JetStream streams and domains)", s)
			return
		}
	}
}

func (v *validator) positive(field string, d time.Duration) {
	if d <= 0 {
		v.fail(field, ErrInvalid, "must be a positive duration, got %s", d)
	}
}

func (v *validator) nonNegative(field string, d time.Duration) {
	if d < 0 {
		v.fail(field, ErrInvalid, "must not be negative, got %s", d)
	}
}

func (v *validator) top() {
	c := v.c
	if v.required("site", c.Site != "") {
		v.name("site", c.Site)
	}
	switch c.InitialRole {
	case RoleActive, RoleStandby:
	default:
		v.fail("initial_role", ErrInvalid, "invalid role %q: want \"active\" or \"standby\"", c.InitialRole)
	}
}

func (v *validator) zookeeper(prefix string, z ZooKeeper) {
	field := prefix + ".servers"
	if v.required(field, len(z.Servers) > 0) {
		seen := map[string]bool{}
		for _, s := range z.Servers {
			if err := checkHostPort(s, true); err != nil {
				v.fail(field, ErrInvalid, "server %q: %v", s, err)
			} else if seen[s] {
				v.fail(field, ErrDuplicate, "server %q is listed twice", s)
			}
			seen[s] = true
		}
	}
	v.positive(prefix+".session_timeout", z.SessionTimeout)
	if z.Auth.IsSet() {
		// The value is never quoted: it is a credential.
		user, pass, ok := strings.Cut(z.Auth.Reveal(), ":")
		if !ok || user == "" || pass == "" {
			v.fail(prefix+".auth", ErrInvalid, "must be digest credentials of the form \"user:password\" (value not shown)")
		}
	}
	if z.Chroot != "" {
		if err := CheckPath(z.Chroot); err != nil {
			v.fail(prefix+".chroot", ErrInvalid, "%v", err)
		} else if z.Chroot == "/" {
			v.fail(prefix+".chroot", ErrInvalid, "a chroot of \"/\" is no chroot: leave it unset")
		}
	}
}

// checkHostPort accepts "host:port" and, when portOptional, a bare host.
func checkHostPort(s string, portOptional bool) error {
	if strings.ContainsAny(s, "/ ,") {
		return fmt.Errorf("want host:port (a chroot goes in chroot, each server in its own list entry)")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if portOptional && !strings.Contains(s, ":") && s != "" {
			return nil
		}
		return fmt.Errorf("want host:port")
	}
	if host == "" && !portOptional {
		return nil // ":9464" listens on every interface
	}
	if host == "" {
		return fmt.Errorf("want host:port, the host is empty")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port must be a number from 1 to 65535")
	}
	return nil
}

func (v *validator) nats(prefix string, n NATS, local bool) {
	field := prefix + ".url"
	if !local || v.required(field, len(n.URLs) > 0) {
		for i, u := range n.URLs {
			if err := checkNATSURL(u); err != nil {
				// The URL is not quoted: it may carry credentials.
				v.fail(field, ErrInvalid, "url %d: %v", i+1, err)
			}
		}
	}
	if n.Domain != "" && n.Domain != v.c.Site {
		v.name(prefix+".domain", n.Domain)
	}
	methods := 0
	if n.Creds != "" {
		methods++
	}
	if n.User != "" || n.Password.IsSet() {
		methods++
		if n.User == "" {
			v.fail(prefix+".user", ErrMissing, "is required with password")
		}
		if !n.Password.IsSet() {
			v.fail(prefix+".password", ErrMissing, "is required with user")
		}
	}
	if n.Token.IsSet() {
		methods++
	}
	if methods > 1 {
		v.fail(prefix, ErrInvalid, "set only one of creds, user/password and token")
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		v.fail(prefix+".tls", ErrInvalid, "cert_file and key_file go together")
	}
}

func checkNATSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.User != nil {
		return fmt.Errorf("credentials in the URL are not allowed: use user and password, token or creds")
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("scheme must be nats://, tls://, ws:// or wss://")
	}
	if u.Host == "" {
		return fmt.Errorf("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port must be a number from 1 to 65535")
		}
	}
	return nil
}

func (v *validator) peer() {
	c := v.c
	p := c.Peer
	if !v.required("peer", p.Name != "") {
		return
	}
	v.name("peer", p.Name)
	if p.Name == c.Site {
		v.fail("peer", ErrInvalid, "peer %q has the name of this site", p.Name)
	}
	prefix := "peer." + p.Name
	v.zookeeper(prefix+".zookeeper", p.ZooKeeper)
	v.nats(prefix+".nats", p.NATS, false)
	if p.NATS.Domain != "" && p.NATS.Domain == c.NATS.Domain {
		v.fail(prefix+".nats.domain", ErrInvalid, "peer domain %q is this site's domain: each site needs its own JetStream domain", p.NATS.Domain)
	}
	for _, s := range p.ZooKeeper.Servers {
		if slices.Contains(c.ZooKeeper.Servers, s) && c.ZooKeeper.Chroot == p.ZooKeeper.Chroot {
			v.fail(prefix+".zookeeper.servers", ErrInvalid, "server %q is also in this site's zookeeper.servers: the sites need separate ensembles", s)
		}
	}
}

func (v *validator) journal() {
	j := v.c.Journal
	if j.Replicas < 1 || j.Replicas > 5 {
		v.fail("journal.replicas", ErrInvalid, "must be from 1 to 5, got %d", j.Replicas)
	}
	v.nonNegative("journal.max_age", j.MaxAge)
	if j.MaxBytes < 0 {
		v.fail("journal.max_bytes", ErrInvalid, "must not be negative")
	}
	if j.MaxMsgs < 0 {
		v.fail("journal.max_msgs", ErrInvalid, "must not be negative")
	}
	v.positive("journal.duplicate_window", j.DuplicateWindow)
	if j.MaxAge > 0 && j.DuplicateWindow > j.MaxAge {
		v.fail("journal.duplicate_window", ErrInvalid, "%s is longer than journal.max_age %s", j.DuplicateWindow, j.MaxAge)
	}
	if j.MaxBatchBytes < 1 || j.MaxBatchBytes > 64<<20 {
		v.fail("journal.max_batch_bytes", ErrInvalid, "must be from 1 byte to 64MB, got %d", j.MaxBatchBytes)
	}
	v.nonNegative("journal.linger", j.Linger)
}

func (v *validator) replication() {
	r := v.c.Replication
	if v.required("replication.include", len(r.Include) > 0) {
		v.paths("replication.include", r.Include)
	}
	v.paths("replication.exclude", r.Exclude)
	for _, in := range r.Include {
		for _, ex := range r.Exclude {
			if CheckPath(in) == nil && CheckPath(ex) == nil && zkpath.Under(in, ex) {
				v.fail("replication.include", ErrInvalid, "%q lies inside excluded %q and would replicate nothing", in, ex)
			}
		}
	}
	switch r.Ephemeral {
	case EphemeralSkip, EphemeralPersistent:
	default:
		v.fail("replication.ephemeral", ErrInvalid, "invalid mode %q: want \"skip\" or \"persistent\"", r.Ephemeral)
	}
	if m := r.Mapping; m != nil {
		for _, f := range []struct{ field, p string }{{"replication.mapping.from", m.From}, {"replication.mapping.to", m.To}} {
			if v.required(f.field, f.p != "") {
				if err := CheckPath(f.p); err != nil {
					v.fail(f.field, ErrInvalid, "%v", err)
				} else if zkpath.IsAlwaysExcluded(f.p) {
					v.fail(f.field, ErrInvalid, "%q is inside a subtree that is never replicated", f.p)
				}
			}
		}
	}
}

func (v *validator) modeRules() {
	for _, m := range v.c.Replication.Modes {
		prefix := "replication.mode." + m.Pattern
		if _, err := path.Match(m.Pattern, "/"); err != nil || !strings.HasPrefix(m.Pattern, "/") {
			v.fail(prefix, ErrInvalid, "%q is not an absolute path pattern (path.Match syntax, e.g. \"/app/locks/*\")", m.Pattern)
		}
		switch m.Kind {
		case KindContainer:
			if m.TTL != 0 {
				v.fail(prefix+".ttl", ErrInvalid, "only a \"ttl\" rule takes a ttl")
			}
		case KindTTL:
			if m.TTL <= 0 || m.TTL > MaxTTL || m.TTL%time.Millisecond != 0 {
				v.fail(prefix+".ttl", ErrInvalid, "must be a whole number of milliseconds from 1ms to %s, got %s", MaxTTL, m.TTL)
			}
		case "":
			v.fail(prefix+".kind", ErrMissing, "is required: \"container\" or \"ttl\"")
		default:
			v.fail(prefix+".kind", ErrInvalid, "invalid kind %q: want \"container\" or \"ttl\"", m.Kind)
		}
	}
}

func (v *validator) paths(field string, ps []string) {
	seen := map[string]bool{}
	for _, p := range ps {
		if err := CheckPath(p); err != nil {
			v.fail(field, ErrInvalid, "%v", err)
		} else if seen[p] {
			v.fail(field, ErrDuplicate, "path %q is listed twice", p)
		}
		seen[p] = true
	}
}

func (v *validator) source() {
	s := v.c.Source
	v.positive("source.heartbeat_interval", s.HeartbeatInterval)
	v.nonNegative("source.acl_recheck_interval", s.ACLRecheckInterval)
	v.nonNegative("source.snapshot_interval", s.SnapshotInterval)
	if s.SnapshotEveryEvents < 0 {
		v.fail("source.snapshot_every_events", ErrInvalid, "must not be negative")
	}
	switch s.Watch {
	case WatchAuto, WatchRecursive, WatchOneShot:
	default:
		v.fail("source.watch", ErrInvalid, "must be %q, %q or %q, got %q", WatchAuto, WatchRecursive, WatchOneShot, s.Watch)
	}
}

func (v *validator) applier() {
	a := v.c.Applier
	if a.MaxBatchOps < 1 {
		v.fail("applier.max_batch_ops", ErrInvalid, "must be at least 1, got %d", a.MaxBatchOps)
	}
	if a.MaxBatchBytes < 1 {
		v.fail("applier.max_batch_bytes", ErrInvalid, "must be at least 1 byte, got %d", a.MaxBatchBytes)
	}
	if !(a.DeleteGuardShare > 0 && a.DeleteGuardShare <= 1) || math.IsNaN(a.DeleteGuardShare) {
		v.fail("applier.delete_guard_share", ErrInvalid, "must be a share greater than 0 and at most 1 (0.1 = 10%%), got %g", a.DeleteGuardShare)
	}
	if a.DeleteGuardMinNodes < 0 {
		v.fail("applier.delete_guard_min_nodes", ErrInvalid, "must not be negative")
	}
	if a.DeleteGuardWindow < time.Second {
		v.fail("applier.delete_guard_window", ErrInvalid, "must be at least 1s (it spans several heartbeats), got %s", a.DeleteGuardWindow)
	}
	if a.IndexFile != "" && (strings.HasSuffix(a.IndexFile, "/") || path.Base(a.IndexFile) == "..") {
		v.fail("applier.index_file", ErrInvalid, "must name a file, not a directory, got %q", a.IndexFile)
	}
	v.hooks(a.GuardHooks, "applier.guard_hook")
}

func (v *validator) antiEntropy() {
	a := v.c.AntiEntropy
	v.nonNegative("anti_entropy.interval", a.Interval)
	if a.Interval > 0 && a.ReadsPerSecond < 1 {
		v.fail("anti_entropy.reads_per_second", ErrInvalid, "must be at least 1 when anti_entropy.interval is set, got %d", a.ReadsPerSecond)
	}
}

// retention: a journal that drops old messages must always keep one complete
// snapshot, or a standby (or a replay) that falls behind the oldest message has
// nothing to start from. Snapshots must therefore come at least twice per
// retention period: by age, snapshot_interval at most half of max_age; by
// size or count, some periodic snapshot at all (its size cannot be known here,
// so the source warns at run time when a snapshot approaches the limit).
func (v *validator) retention() {
	j, s := v.c.Journal, v.c.Source
	if j.MaxAge > 0 {
		switch {
		case s.SnapshotInterval == 0:
			v.fail("source.snapshot_interval", ErrMissing, "is required when journal.max_age is set (at most half of it, so one complete snapshot is always kept)")
		case 2*s.SnapshotInterval > j.MaxAge:
			v.fail("source.snapshot_interval", ErrInvalid, "%s is more than half of journal.max_age %s: a complete snapshot might not be kept", s.SnapshotInterval, j.MaxAge)
		}
	}
	if (j.MaxBytes > 0 || j.MaxMsgs > 0) && s.SnapshotInterval == 0 && s.SnapshotEveryEvents == 0 {
		v.fail("source.snapshot_every_events", ErrMissing, "journal.max_bytes or journal.max_msgs is set: set snapshot_every_events or snapshot_interval, so one complete snapshot is always kept")
	}
}

func (v *validator) failover() {
	f := v.c.Failover
	v.positive("failover.max_lag_for_switchover", f.MaxLagForSwitchover)
	v.hooks(f.Hooks, "failover.hook")
}

// hooks checks hook blocks named under kind.
func (v *validator) hooks(hooks []Hook, kind string) {
	seen := map[string]bool{}
	for _, h := range hooks {
		prefix := kind + "." + h.Name
		if h.Name == "" {
			v.fail(kind, ErrMissing, "a hook needs a name")
		} else if seen[h.Name] {
			v.fail(prefix, ErrDuplicate, "duplicate hook %q", h.Name)
		}
		seen[h.Name] = true
		if v.required(prefix+".command", len(h.Command) > 0) && h.Command[0] == "" {
			v.fail(prefix+".command", ErrInvalid, "the program (first element) is empty")
		}
		v.positive(prefix+".timeout", h.Timeout)
	}
}

func (v *validator) ha() {
	if id := v.c.HA.NodeID; id != "" {
		if len(id) > maxNameLen || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
			v.fail("ha.node_id", ErrInvalid, "%q must be at most %d characters without / (it names a znode)", id, maxNameLen)
		}
	}
}

func (v *validator) metricsAndLog() {
	c := v.c
	if c.Metrics.Listen != "" {
		if err := checkHostPort(c.Metrics.Listen, false); err != nil {
			v.fail("metrics.listen", ErrInvalid, "%q: %v (\"\" turns metrics off)", c.Metrics.Listen, err)
		}
	}
	if lvl := hclog.LevelFromString(c.Log.Level); lvl == hclog.NoLevel || lvl == hclog.Off {
		v.fail("log.level", ErrInvalid, "invalid level %q: want trace, debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.fail("log.format", ErrInvalid, "invalid format %q: want \"text\" or \"json\"", c.Log.Format)
	}
}
