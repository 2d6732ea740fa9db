package configs_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
)

const minimal = `
site = "east"
zookeeper { servers = ["127.0.0.1:2181"] }
nats { url = "nats://127.0.0.1:4222" }
peer "west" {
  zookeeper { servers = ["127.0.0.1:2182"] }
}
`

func TestDefaults(t *testing.T) {
	c, err := configs.Parse([]byte(minimal), "min.hcl")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"initial_role", c.InitialRole, configs.RoleStandby},
		{"zookeeper.session_timeout", c.ZooKeeper.SessionTimeout, 10 * time.Second},
		{"zookeeper.auth", c.ZooKeeper.Auth.IsSet(), false},
		{"nats.domain = site", c.NATS.Domain, "east"},
		{"nats.url", c.NATS.URL(), "nats://127.0.0.1:4222"},
		{"peer.name", c.Peer.Name, "west"},
		{"peer nats.domain = peer name", c.Peer.NATS.Domain, "west"},
		{"peer nats.url optional", len(c.Peer.NATS.URLs), 0},
		{"peer session_timeout = site's", c.Peer.ZooKeeper.SessionTimeout, 10 * time.Second},
		{"journal.replicas", c.Journal.Replicas, 1},
		{"journal.max_age", c.Journal.MaxAge, time.Duration(0)},
		{"journal.max_bytes", c.Journal.MaxBytes, int64(0)},
		{"journal.duplicate_window", c.Journal.DuplicateWindow, 2 * time.Minute},
		{"journal.sync_always", c.Journal.SyncAlways, false},
		{"journal.max_batch_bytes", c.Journal.MaxBatchBytes, 256 << 10},
		{"journal.linger", c.Journal.Linger, 5 * time.Millisecond},
		{"replication.include", c.Replication.Include, []string{"/"}},
		{"replication.exclude", c.Replication.Exclude, []string{"/zookeeper", "/zkdr"}},
		{"replication.ephemeral", c.Replication.Ephemeral, configs.EphemeralSkip},
		{"replication.mapping", c.Replication.Mapping == nil, true},
		{"source.heartbeat_interval", c.Source.HeartbeatInterval, time.Second},
		{"source.acl_recheck_interval", c.Source.ACLRecheckInterval, time.Minute},
		{"source.snapshot_interval", c.Source.SnapshotInterval, time.Duration(0)},
		{"source.snapshot_every_events", c.Source.SnapshotEveryEvents, int64(0)},
		{"applier.max_batch_ops", c.Applier.MaxBatchOps, 1000},
		{"applier.max_batch_bytes", c.Applier.MaxBatchBytes, 900 * 1024},
		{"applier.delete_guard_share", c.Applier.DeleteGuardShare, 0.25},
		{"applier.delete_guard_min_nodes", c.Applier.DeleteGuardMinNodes, 100},
		{"applier.delete_guard_window", c.Applier.DeleteGuardWindow, 10 * time.Minute},
		{"failover.max_lag_for_switchover", c.Failover.MaxLagForSwitchover, 5 * time.Second},
		{"failover.hooks", len(c.Failover.Hooks), 0},
		{"ha.election", c.HA.Election, false},
		{"metrics.listen", c.Metrics.Listen, "127.0.0.1:9464"},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"File", c.File(), "min.hcl"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestParseEveryField(t *testing.T) {
	dir := t.TempDir()
	src := `
site         = "east"
initial_role = "active"
zookeeper {
  servers         = ["zk1:2181", "zk2"]
  session_timeout = "4s"
  auth            = "super:pw"
  chroot          = "/prod"
}
nats {
  url      = ["nats://n1:4222", "tls://n2:4222"]
  domain   = "east-js"
  user     = "zkdr"
  password = "npw"
  tls {
    ca_file   = "ca.pem"
    cert_file = "/abs/cert.pem"
    key_file  = "key.pem"
  }
}
peer "west" {
  zookeeper {
    servers = ["wzk1:2181"]
    auth    = "super:wpw"
    chroot  = "/prod"
  }
  nats {
    domain = "west-js"
    url    = "nats://w1:4222"
    token  = "wtoken"
  }
}
journal {
  replicas         = 3
  max_age          = "168h"
  max_bytes        = "1.5GB"
  max_msgs         = 1000000
  duplicate_window = "5m"
  sync_always      = true
  max_batch_bytes  = 65536
  linger           = "0s"
}
replication {
  include   = ["/app", "/cfg"]
  exclude   = ["/app/tmp"]
  ephemeral = "persistent"
  mapping {
    from = "/app"
    to   = "/dr/app"
  }
}
source {
  heartbeat_interval    = "500ms"
  acl_recheck_interval  = "0s"
  snapshot_interval     = "6h"
  snapshot_every_events = 100000
  watch                 = "recursive"
}
anti_entropy {
  interval         = "30m"
  reads_per_second = 50
}
applier {
  max_batch_ops          = 500
  max_batch_bytes        = "512KiB"
  delete_guard_share     = 0.25
  delete_guard_min_nodes = 0
  delete_guard_window    = "5m"
  index_file             = "/var/lib/zkdr/applier-index"
  guard_hook "pager" {
    command = ["/bin/page", "--team", "zk"]
    timeout = "5s"
  }
}
failover {
  max_lag_for_switchover = "2s"
  active_connect_file    = "active.txt"
  hook "dns" {
    command = ["/bin/dns", "--zone", "x"]
  }
  hook "lb" {
    command = ["/bin/lb"]
    timeout = "5s"
  }
}
ha {
  election = true
  node_id  = "east-a"
}
metrics { listen = ":9464" }
log {
  level  = "debug"
  format = "json"
}
`
	path := filepath.Join(dir, "full.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := configs.Config{
		Site:        "east",
		InitialRole: configs.RoleActive,
		ZooKeeper: configs.ZooKeeper{Servers: []string{"zk1:2181", "zk2"}, SessionTimeout: 4 * time.Second,
			Auth: configs.NewSecret("super:pw"), Chroot: "/prod"},
		NATS: configs.NATS{URLs: []string{"nats://n1:4222", "tls://n2:4222"}, Domain: "east-js", User: "zkdr",
			Password: configs.NewSecret("npw"),
			TLS:      configs.TLS{CAFile: filepath.Join(dir, "ca.pem"), CertFile: "/abs/cert.pem", KeyFile: filepath.Join(dir, "key.pem")}},
		Peer: configs.Peer{Name: "west",
			ZooKeeper: configs.ZooKeeper{Servers: []string{"wzk1:2181"}, SessionTimeout: 4 * time.Second,
				Auth: configs.NewSecret("super:wpw"), Chroot: "/prod"},
			NATS: configs.NATS{Domain: "west-js", URLs: []string{"nats://w1:4222"}, Token: configs.NewSecret("wtoken")}},
		Journal: configs.Journal{Replicas: 3, MaxAge: 168 * time.Hour, MaxBytes: 3 << 29, MaxMsgs: 1000000,
			DuplicateWindow: 5 * time.Minute, SyncAlways: true, MaxBatchBytes: 65536, Linger: 0},
		Replication: configs.Replication{Include: []string{"/app", "/cfg"},
			Exclude: []string{"/app/tmp", "/zookeeper", "/zkdr"}, Ephemeral: configs.EphemeralPersistent,
			Mapping: &configs.Mapping{From: "/app", To: "/dr/app"}},
		Source: configs.Source{HeartbeatInterval: 500 * time.Millisecond, ACLRecheckInterval: 0,
			SnapshotInterval: 6 * time.Hour, SnapshotEveryEvents: 100000, Watch: configs.WatchRecursive},
		Applier: configs.Applier{MaxBatchOps: 500, MaxBatchBytes: 512 << 10, DeleteGuardShare: 0.25, DeleteGuardMinNodes: 0, DeleteGuardWindow: 5 * time.Minute,
			IndexFile:  "/var/lib/zkdr/applier-index",
			GuardHooks: []configs.Hook{{Name: "pager", Command: []string{"/bin/page", "--team", "zk"}, Timeout: 5 * time.Second}}},
		AntiEntropy: configs.AntiEntropy{Interval: 30 * time.Minute, ReadsPerSecond: 50},
		Failover: configs.Failover{MaxLagForSwitchover: 2 * time.Second, ActiveConnectFile: filepath.Join(dir, "active.txt"),
			Hooks: []configs.Hook{
				{Name: "dns", Command: []string{"/bin/dns", "--zone", "x"}, Timeout: configs.DefaultHookTimeout},
				{Name: "lb", Command: []string{"/bin/lb"}, Timeout: 5 * time.Second},
			}},
		HA:      configs.HA{Election: true, NodeID: "east-a"},
		Metrics: configs.Metrics{Listen: ":9464"},
		Log:     configs.Log{Level: "debug", Format: "json"},
	}
	// The unexported source positions differ; compare field by field.
	gv, wv := reflect.ValueOf(*c), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		if !gv.Type().Field(i).IsExported() {
			continue
		}
		if g, w := gv.Field(i).Interface(), wv.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %#v\nwant %#v", gv.Type().Field(i).Name, g, w)
		}
	}
	if got := c.ZooKeeper.ConnectString(); got != "zk1:2181,zk2/prod" {
		t.Errorf("ConnectString = %q", got)
	}
	if got := c.NATS.URL(); got != "nats://n1:4222,tls://n2:4222" {
		t.Errorf("URL = %q", got)
	}
	if !c.NATS.TLS.Enabled() || c.Peer.NATS.TLS.Enabled() {
		t.Errorf("TLS.Enabled wrong")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := configs.Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want not-exist", err)
	}
}

func TestEnvFunction(t *testing.T) {
	t.Setenv("ZKDR_TEST_AUTH", "super:from-env")
	t.Setenv("ZKDR_TEST_EMPTY", "")
	src := strings.Replace(minimal, `zookeeper { servers = ["127.0.0.1:2181"] }`, `
zookeeper {
  servers = [env("ZKDR_TEST_UNSET_SERVER", "127.0.0.1:2181")]
  auth    = env("ZKDR_TEST_AUTH")
  chroot  = env("ZKDR_TEST_EMPTY", "/unused")
}`, 1)
	c, err := configs.Parse([]byte(src), "env.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ZooKeeper.Auth.Reveal(); got != "super:from-env" {
		t.Errorf("auth = %q", got)
	}
	if got := c.ZooKeeper.Servers; len(got) != 1 || got[0] != "127.0.0.1:2181" {
		t.Errorf("fallback not used: %v", got)
	}
	// A variable set to "" is set: the fallback is for unset ones only.
	if c.ZooKeeper.Chroot != "" {
		t.Errorf("chroot = %q, want the empty value of the set variable", c.ZooKeeper.Chroot)
	}
}

func TestFileFunction(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf")
	if err := os.MkdirAll(filepath.Join(sub, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Orchestrators and editors leave a trailing newline; it must go.
	if err := os.WriteFile(filepath.Join(sub, "secrets", "zk"), []byte("super:from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "token")
	if err := os.WriteFile(abs, []byte("tok\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(minimal, `zookeeper { servers = ["127.0.0.1:2181"] }`, `
zookeeper {
  servers = ["127.0.0.1:2181"]
  auth    = file("secrets/zk")
}`, 1)
	src = strings.Replace(src, `nats { url = "nats://127.0.0.1:4222" }`, `
nats {
  url   = "nats://127.0.0.1:4222"
  token = file("`+abs+`")
}`, 1)
	path := filepath.Join(sub, "site.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	// Load from another working directory: file() follows the config file.
	t.Chdir(dir)
	c, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ZooKeeper.Auth.Reveal(); got != "super:from-file" {
		t.Errorf("auth = %q", got)
	}
	if got := c.NATS.Token.Reveal(); got != "tok" {
		t.Errorf("token = %q", got)
	}

	for name, arg := range map[string]string{
		"directory":  "secrets",
		"too large":  "big",
		"not utf8":   "binary",
		"empty path": "",
	} {
		t.Run(name, func(t *testing.T) {
			_ = os.WriteFile(filepath.Join(sub, "big"), make([]byte, 2<<20), 0o600)
			_ = os.WriteFile(filepath.Join(sub, "binary"), []byte{0xff, 0xfe, 0x00}, 0o600)
			bad := strings.Replace(src, `file("secrets/zk")`, `file("`+arg+`")`, 1)
			_, err := configs.Parse([]byte(bad), path)
			if !errors.Is(err, configs.ErrType) {
				t.Fatalf("got %v, want ErrType", err)
			}
			if !strings.Contains(err.Error(), "zookeeper.auth") {
				t.Fatalf("error %q does not name the field", err)
			}
		})
	}
}

func TestByteSizes(t *testing.T) {
	good := map[string]int64{
		"0": 0, "4096": 4096, "10B": 10, "1K": 1024, "900KB": 900 << 10, "900KiB": 900 << 10, "512mb": 512 << 20,
		"1.5GB": 3 << 29, "2 GiB": 2 << 30, "1TB": 1 << 40, " 7 ": 7,
	}
	for in, want := range good {
		got, err := configs.ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1", "1.5", "1XB", "1e3", "1..2KB", "99999999999TB"} {
		if got, err := configs.ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want error", in, got)
		}
	}
}

func TestByteSizeAsNumberOrString(t *testing.T) {
	for _, v := range []string{`1048576`, `"1MB"`, `"1024KB"`} {
		c, err := configs.Parse([]byte(minimal+"journal {\n  max_bytes = "+v+"\n}\nsource {\n  snapshot_every_events = 1000\n}\n"), "b.hcl")
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if c.Journal.MaxBytes != 1<<20 {
			t.Errorf("%s: max_bytes = %d", v, c.Journal.MaxBytes)
		}
	}
}

func TestNullKeepsDefault(t *testing.T) {
	c, err := configs.Parse([]byte(minimal+"journal {\n  replicas = null\n}\n"), "n.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if c.Journal.Replicas != 1 {
		t.Errorf("replicas = %d", c.Journal.Replicas)
	}
}

func TestRetentionNeedsSnapshots(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{"journal {\n  max_age = \"24h\"\n}\n", "source.snapshot_interval"},
		{"journal {\n  max_age = \"24h\"\n}\nsource {\n  snapshot_interval = \"13h\"\n}\n", "source.snapshot_interval"},
		{"journal {\n  max_bytes = \"1GB\"\n}\n", "source.snapshot_every_events"},
		{"journal {\n  max_msgs = 100\n}\n", "source.snapshot_every_events"},
		{"anti_entropy {\n  reads_per_second = 0\n}\n", "anti_entropy.reads_per_second"},
	} {
		_, err := configs.Parse([]byte(minimal+tc.body), "r.hcl")
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%q: error %v, want one naming %s", tc.body, err, tc.field)
		}
	}
	ok := minimal + "journal {\n  max_age = \"24h\"\n}\nsource {\n  snapshot_interval = \"12h\"\n}\n"
	if _, err := configs.Parse([]byte(ok), "r.hcl"); err != nil {
		t.Errorf("snapshot_interval half of max_age: %v", err)
	}
}

func TestModeRules(t *testing.T) {
	src := minimal + `replication {
  include = ["/"]
  mode "/app/locks/*" {
    kind = "container"
  }
  mode "/app/cache/*" {
    kind = "ttl"
    ttl  = "90s"
  }
}
`
	c, err := configs.Parse([]byte(src), "m.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := []configs.ModeRule{
		{Pattern: "/app/locks/*", Kind: configs.KindContainer},
		{Pattern: "/app/cache/*", Kind: configs.KindTTL, TTL: 90 * time.Second},
	}
	if !reflect.DeepEqual(c.Replication.Modes, want) {
		t.Fatalf("modes %+v, want %+v", c.Replication.Modes, want)
	}
	for _, tc := range []struct{ rule, want string }{
		{"mode \"/a/*\" {\n  kind = \"ttl\"\n}\n", `m.hcl:10:1: replication.mode./a/*.ttl`},
		{"mode \"/a/*\" {\n  kind = \"container\"\n  ttl = \"1s\"\n}\n", "replication.mode./a/*.ttl"},
		{"mode \"/a/*\" {\n  kind = \"sequential\"\n}\n", `invalid kind "sequential"`},
		{"mode \"a/[\" {\n  kind = \"container\"\n}\n", "is not an absolute path pattern"},
		{"mode \"/a\" {\n  kind = \"container\"\n}\nmode \"/a\" {\n  kind = \"container\"\n}\n", "duplicate mode rule"},
	} {
		_, err := configs.Parse([]byte(minimal+"replication {\n  include = [\"/\"]\n"+tc.rule+"}\n"), "m.hcl")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.rule, err, tc.want)
		}
	}
}
