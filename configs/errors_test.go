package configs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zkdr/zkdr/configs"
)

// The credential every test config carries; no error may ever contain it.
const testSecret = "s3cr3t-Value"

// baseParts is a small valid config, block by block, so a case can replace one
// block and still have the others. The line an error must point at is marked
// with "#<-" in the case's text.
var baseParts = []struct{ name, text string }{
	{"head", "site         = \"east\"\ninitial_role = \"active\"\n"},
	{"zookeeper", "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth    = \"super:" + testSecret + "\"\n}\n"},
	{"nats", "nats {\n  url = \"nats://127.0.0.1:4222\"\n}\n"},
	{"peer", "peer \"west\" {\n  zookeeper { servers = [\"127.0.0.1:2182\"] }\n}\n"},
}

func build(over map[string]string, extra string) string {
	var b strings.Builder
	for _, p := range baseParts {
		if t, ok := over[p.name]; ok {
			b.WriteString(t)
		} else {
			b.WriteString(p.text)
		}
	}
	b.WriteString(extra)
	return b.String()
}

// markedLine is the 1-based line holding "#<-".
func markedLine(t *testing.T, src string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "#<-") {
			return i + 1
		}
	}
	t.Fatalf("no #<- marker in:\n%s", src)
	return 0
}

func TestParseBase(t *testing.T) {
	if _, err := configs.Parse([]byte(build(nil, "")), "test.hcl"); err != nil {
		t.Fatalf("base config: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Setenv("ZKDR_TEST_SET", "super:"+testSecret)
	cases := []struct {
		name     string
		over     map[string]string
		extra    string
		field    string
		sentinel error
		msg      string
	}{
		// Unknown fields and blocks.
		{name: "unknown top-level field", extra: "sitename = \"x\" #<-\n",
			field: "sitename", sentinel: configs.ErrUnknownField, msg: "unknown field"},
		{name: "unknown field with suggestion",
			over:  map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  sesion_timeout = \"5s\" #<-\n}\n"},
			field: "zookeeper.sesion_timeout", sentinel: configs.ErrUnknownField, msg: `did you mean "session_timeout"`},
		{name: "unknown block", extra: "metric { listen = \"127.0.0.1:1\" } #<-\n",
			field: "metric", sentinel: configs.ErrUnknownField, msg: `did you mean "metrics"`},
		{name: "unknown field in peer nats",
			over:  map[string]string{"peer": "peer \"west\" {\n  zookeeper { servers = [\"127.0.0.1:2182\"] }\n  nats {\n    domian = \"w\" #<-\n  }\n}\n"},
			field: "peer.west.nats.domian", sentinel: configs.ErrUnknownField, msg: `did you mean "domain"`},
		{name: "unknown field in hook", extra: "failover {\n  hook \"a\" {\n    command = [\"true\"]\n    timeuot = \"1s\" #<-\n  }\n}\n",
			field: "failover.hook.a.timeuot", sentinel: configs.ErrUnknownField, msg: "unknown field"},
		{name: "block written as argument", extra: "metrics = { listen = \"x\" } #<-\n",
			field: "metrics", sentinel: configs.ErrType, msg: "is a block"},
		{name: "argument written as block", extra: "log {\n  level {} #<-\n}\n",
			field: "log.level", sentinel: configs.ErrType, msg: "is an argument"},

		// Wrong types.
		{name: "list for string", over: map[string]string{"head": "site = [\"east\"] #<-\n"},
			field: "site", sentinel: configs.ErrType, msg: "want a string"},
		{name: "string for list",
			over:  map[string]string{"zookeeper": "zookeeper {\n  servers = \"127.0.0.1:2181\" #<-\n}\n"},
			field: "zookeeper.servers", sentinel: configs.ErrType, msg: "want a list of strings"},
		{name: "string for int", extra: "journal {\n  replicas = \"three\" #<-\n}\n",
			field: "journal.replicas", sentinel: configs.ErrType, msg: "whole number"},
		{name: "fraction for int", extra: "applier {\n  max_batch_ops = 1.5 #<-\n}\n",
			field: "applier.max_batch_ops", sentinel: configs.ErrInvalid, msg: "whole number"},
		{name: "string for bool", extra: "ha {\n  election = \"yes\" #<-\n}\n",
			field: "ha.election", sentinel: configs.ErrType, msg: "true or false"},
		{name: "object for list", extra: "replication {\n  include = { a = \"/\" } #<-\n}\n",
			field: "replication.include", sentinel: configs.ErrType, msg: "list of strings"},
		{name: "bool for byte size", extra: "journal {\n  max_bytes = true #<-\n}\n",
			field: "journal.max_bytes", sentinel: configs.ErrType, msg: "byte size"},
		{name: "bad byte size unit", extra: "journal {\n  max_bytes = \"12XB\" #<-\n}\n",
			field: "journal.max_bytes", sentinel: configs.ErrInvalid, msg: "unknown unit"},
		{name: "fractional bytes", extra: "applier {\n  max_batch_bytes = 10.5 #<-\n}\n",
			field: "applier.max_batch_bytes", sentinel: configs.ErrInvalid, msg: "whole number of bytes"},

		// Missing required fields and blocks.
		{name: "missing site", over: map[string]string{"head": "initial_role = \"active\" #<-\n"},
			field: "site", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "empty site", over: map[string]string{"head": "site = \"\" #<-\n"},
			field: "site", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "missing zookeeper block", over: map[string]string{"head": "site = \"east\" #<-\n", "zookeeper": ""},
			field: "zookeeper.servers", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "missing zookeeper.servers", over: map[string]string{"zookeeper": "zookeeper { #<-\n  session_timeout = \"5s\"\n}\n"},
			field: "zookeeper.servers", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "empty zookeeper.servers", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [] #<-\n}\n"},
			field: "zookeeper.servers", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "missing nats.url", over: map[string]string{"nats": "nats { #<-\n  domain = \"east\"\n}\n"},
			field: "nats.url", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "missing nats block", over: map[string]string{"head": "site = \"east\" #<-\n", "nats": ""},
			field: "nats.url", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "missing peer block", over: map[string]string{"head": "site = \"east\" #<-\n", "peer": ""},
			field: "peer", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "missing peer servers", over: map[string]string{"peer": "peer \"west\" { #<-\n  nats { domain = \"w\" }\n}\n"},
			field: "peer.west.zookeeper.servers", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "missing hook command", extra: "failover {\n  hook \"dns\" { #<-\n    timeout = \"1s\"\n  }\n}\n",
			field: "failover.hook.dns.command", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "user without password", over: map[string]string{"nats": "nats { #<-\n  url  = \"nats://127.0.0.1:4222\"\n  user = \"zkdr\"\n}\n"},
			field: "nats.password", sentinel: configs.ErrMissing, msg: "required with user"},

		// Bad durations.
		{name: "duration without unit", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  session_timeout = \"10\" #<-\n}\n"},
			field: "zookeeper.session_timeout", sentinel: configs.ErrInvalid, msg: `invalid duration "10"`},
		{name: "duration as number", extra: "source {\n  heartbeat_interval = 5 #<-\n}\n",
			field: "source.heartbeat_interval", sentinel: configs.ErrInvalid, msg: `invalid duration "5"`},
		{name: "duration garbage", extra: "journal {\n  max_age = \"a week\" #<-\n}\n",
			field: "journal.max_age", sentinel: configs.ErrInvalid, msg: "invalid duration"},
		{name: "negative duration", extra: "source {\n  heartbeat_interval = \"-1s\" #<-\n}\n",
			field: "source.heartbeat_interval", sentinel: configs.ErrInvalid, msg: "positive"},
		{name: "zero hook timeout", extra: "failover {\n  hook \"a\" {\n    command = [\"true\"]\n    timeout = \"0s\" #<-\n  }\n}\n",
			field: "failover.hook.a.timeout", sentinel: configs.ErrInvalid, msg: "positive"},
		{name: "duplicate window beyond max age", extra: "journal {\n  max_age = \"1m\"\n  duplicate_window = \"2m\" #<-\n}\n",
			field: "journal.duplicate_window", sentinel: configs.ErrInvalid, msg: "longer than journal.max_age"},

		// Bad roles and names.
		{name: "bad role", over: map[string]string{"head": "site = \"east\"\ninitial_role = \"primary\" #<-\n"},
			field: "initial_role", sentinel: configs.ErrInvalid, msg: `invalid role "primary"`},
		{name: "fenced is not a config role", over: map[string]string{"head": "site = \"east\"\ninitial_role = \"fenced\" #<-\n"},
			field: "initial_role", sentinel: configs.ErrInvalid, msg: "invalid role"},
		{name: "bad site name", over: map[string]string{"head": "site = \"east.1\" #<-\n"},
			field: "site", sentinel: configs.ErrInvalid, msg: "letters, digits"},
		{name: "bad domain", over: map[string]string{"nats": "nats {\n  url = \"nats://127.0.0.1:4222\"\n  domain = \"a b\" #<-\n}\n"},
			field: "nats.domain", sentinel: configs.ErrInvalid, msg: "letters, digits"},
		{name: "peer named like the site", over: map[string]string{"peer": "peer \"east\" { #<-\n  zookeeper { servers = [\"127.0.0.1:2182\"] }\n}\n"},
			field: "peer", sentinel: configs.ErrInvalid, msg: "name of this site"},
		{name: "peer domain equals own", over: map[string]string{"peer": "peer \"west\" {\n  zookeeper { servers = [\"127.0.0.1:2182\"] }\n  nats { domain = \"east\" } #<-\n}\n"},
			field: "peer.west.nats.domain", sentinel: configs.ErrInvalid, msg: "own JetStream domain"},
		{name: "peer shares the ensemble", over: map[string]string{"peer": "peer \"west\" {\n  zookeeper { servers = [\"127.0.0.1:2181\"] } #<-\n}\n"},
			field: "peer.west.zookeeper.servers", sentinel: configs.ErrInvalid, msg: "separate ensembles"},
		{name: "bad ephemeral mode", extra: "replication {\n  ephemeral = \"keep\" #<-\n}\n",
			field: "replication.ephemeral", sentinel: configs.ErrInvalid, msg: `invalid mode "keep"`},
		{name: "bad log level", extra: "log {\n  level = \"loud\" #<-\n}\n",
			field: "log.level", sentinel: configs.ErrInvalid, msg: "invalid level"},
		{name: "bad log format", extra: "log {\n  format = \"xml\" #<-\n}\n",
			field: "log.format", sentinel: configs.ErrInvalid, msg: "invalid format"},

		// Bad paths.
		{name: "relative include", extra: "replication {\n  include = [\"app\"] #<-\n}\n",
			field: "replication.include", sentinel: configs.ErrInvalid, msg: "must be absolute"},
		{name: "trailing slash exclude", extra: "replication {\n  exclude = [\"/app/\"] #<-\n}\n",
			field: "replication.exclude", sentinel: configs.ErrInvalid, msg: "must not end with /"},
		{name: "empty element", extra: "replication {\n  include = [\"/a//b\"] #<-\n}\n",
			field: "replication.include", sentinel: configs.ErrInvalid, msg: "empty element"},
		{name: "dot element", extra: "replication {\n  include = [\"/a/../b\"] #<-\n}\n",
			field: "replication.include", sentinel: configs.ErrInvalid, msg: "relative element"},
		{name: "empty include", extra: "replication {\n  include = [] #<-\n}\n",
			field: "replication.include", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "include inside exclude", extra: "replication {\n  include = [\"/app/x\"] #<-\n  exclude = [\"/app\"]\n}\n",
			field: "replication.include", sentinel: configs.ErrInvalid, msg: "replicate nothing"},
		{name: "duplicate include", extra: "replication {\n  include = [\"/a\", \"/a\"] #<-\n}\n",
			field: "replication.include", sentinel: configs.ErrDuplicate, msg: "listed twice"},
		{name: "relative mapping", extra: "replication {\n  mapping {\n    from = \"app\" #<-\n    to   = \"/dr/app\"\n  }\n}\n",
			field: "replication.mapping.from", sentinel: configs.ErrInvalid, msg: "must be absolute"},
		{name: "mapping without to", extra: "replication {\n  mapping { #<-\n    from = \"/app\"\n  }\n}\n",
			field: "replication.mapping.to", sentinel: configs.ErrMissing, msg: "is required"},
		{name: "mapping into zkdr", extra: "replication {\n  mapping {\n    from = \"/app\"\n    to   = \"/zkdr/app\" #<-\n  }\n}\n",
			field: "replication.mapping.to", sentinel: configs.ErrInvalid, msg: "never replicated"},
		{name: "relative chroot", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  chroot = \"dr\" #<-\n}\n"},
			field: "zookeeper.chroot", sentinel: configs.ErrInvalid, msg: "must be absolute"},

		// Bad addresses and credentials.
		{name: "bad server port", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"zk1:99999\"] #<-\n}\n"},
			field: "zookeeper.servers", sentinel: configs.ErrInvalid, msg: "port"},
		{name: "chroot in server", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"zk1:2181/app\"] #<-\n}\n"},
			field: "zookeeper.servers", sentinel: configs.ErrInvalid, msg: "chroot"},
		{name: "duplicate server", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"zk1:2181\", \"zk1:2181\"] #<-\n}\n"},
			field: "zookeeper.servers", sentinel: configs.ErrDuplicate, msg: "listed twice"},
		{name: "auth without colon", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth = \"" + testSecret + "\" #<-\n}\n"},
			field: "zookeeper.auth", sentinel: configs.ErrInvalid, msg: "user:password"},
		{name: "url with credentials", over: map[string]string{"nats": "nats {\n  url = \"nats://zkdr:" + testSecret + "@127.0.0.1:4222\" #<-\n}\n"},
			field: "nats.url", sentinel: configs.ErrInvalid, msg: "credentials in the URL"},
		{name: "url with bad scheme", over: map[string]string{"nats": "nats {\n  url = [\"nats://a:4222\", \"http://b:4222\"] #<-\n}\n"},
			field: "nats.url", sentinel: configs.ErrInvalid, msg: "url 2: scheme"},
		{name: "two auth methods", over: map[string]string{"nats": "nats { #<-\n  url   = \"nats://127.0.0.1:4222\"\n  creds = \"/etc/zkdr.creds\"\n  token = \"" + testSecret + "\"\n}\n"},
			field: "nats", sentinel: configs.ErrInvalid, msg: "only one of"},
		{name: "cert without key", over: map[string]string{"nats": "nats {\n  url = \"nats://127.0.0.1:4222\"\n  tls { #<-\n    cert_file = \"c.pem\"\n  }\n}\n"},
			field: "nats.tls", sentinel: configs.ErrInvalid, msg: "go together"},
		{name: "bad metrics listen", extra: "metrics {\n  listen = \"localhost\" #<-\n}\n",
			field: "metrics.listen", sentinel: configs.ErrInvalid, msg: "host:port"},
		{name: "bad node id", extra: "ha {\n  node_id = \"a/b\" #<-\n}\n",
			field: "ha.node_id", sentinel: configs.ErrInvalid, msg: "without /"},

		// Ranges.
		{name: "too many replicas", extra: "journal {\n  replicas = 7 #<-\n}\n",
			field: "journal.replicas", sentinel: configs.ErrInvalid, msg: "from 1 to 5"},
		{name: "guard share above 1", extra: "applier {\n  delete_guard_share = 1.5 #<-\n}\n",
			field: "applier.delete_guard_share", sentinel: configs.ErrInvalid, msg: "at most 1"},
		{name: "guard share zero", extra: "applier {\n  delete_guard_share = 0 #<-\n}\n",
			field: "applier.delete_guard_share", sentinel: configs.ErrInvalid, msg: "greater than 0"},
		{name: "guard window too short", extra: "applier {\n  delete_guard_window = \"10ms\" #<-\n}\n",
			field: "applier.delete_guard_window", sentinel: configs.ErrInvalid, msg: "at least 1s"},
		{name: "index file a directory", extra: "applier {\n  index_file = \"/var/lib/zkdr/\" #<-\n}\n",
			field: "applier.index_file", sentinel: configs.ErrInvalid, msg: "not a directory"},
		{name: "zero batch ops", extra: "applier {\n  max_batch_ops = 0 #<-\n}\n",
			field: "applier.max_batch_ops", sentinel: configs.ErrInvalid, msg: "at least 1"},
		{name: "negative snapshot count", extra: "source {\n  snapshot_every_events = -1 #<-\n}\n",
			field: "source.snapshot_every_events", sentinel: configs.ErrInvalid, msg: "negative"},
		{name: "unknown watch mode", extra: "source {\n  watch = \"polling\" #<-\n}\n",
			field: "source.watch", sentinel: configs.ErrInvalid, msg: "polling"},

		// Duplicates.
		{name: "second peer", extra: "peer \"south\" { #<-\n  zookeeper { servers = [\"127.0.0.1:2183\"] }\n}\n",
			field: "peer.south", sentinel: configs.ErrDuplicate, msg: "exactly one peer"},
		{name: "same peer twice", extra: "peer \"west\" { #<-\n  zookeeper { servers = [\"127.0.0.1:2182\"] }\n}\n",
			field: "peer.west", sentinel: configs.ErrDuplicate, msg: "exactly one peer"},
		{name: "second zookeeper block", extra: "zookeeper { #<-\n  servers = [\"127.0.0.1:2181\"]\n}\n",
			field: "zookeeper", sentinel: configs.ErrDuplicate, msg: "duplicate zookeeper block"},
		{name: "duplicate hook", extra: "failover {\n  hook \"a\" { command = [\"true\"] }\n  hook \"a\" { command = [\"false\"] } #<-\n}\n",
			field: "failover.hook.a", sentinel: configs.ErrDuplicate, msg: `duplicate hook "a"`},

		// Labels.
		{name: "peer without label", extra: "peer { #<-\n}\n",
			field: "peer", sentinel: configs.ErrSyntax, msg: "takes one label"},
		{name: "empty peer label", over: map[string]string{"peer": "peer \"\" { #<-\n  zookeeper { servers = [\"127.0.0.1:2182\"] }\n}\n"},
			field: "peer", sentinel: configs.ErrInvalid, msg: "must not be empty"},
		{name: "empty hook label", extra: "failover {\n  hook \"\" { #<-\n    command = [\"true\"]\n  }\n}\n",
			field: "failover.hook", sentinel: configs.ErrInvalid, msg: "must not be empty"},
		{name: "label on plain block", extra: "journal \"x\" { #<-\n}\n",
			field: "journal", sentinel: configs.ErrSyntax, msg: "takes no label"},

		// Expressions.
		{name: "env unset", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth = env(\"ZKDR_TEST_UNSET_VARIABLE\") #<-\n}\n"},
			field: "zookeeper.auth", sentinel: configs.ErrType, msg: "ZKDR_TEST_UNSET_VARIABLE is not set"},
		{name: "env too many args", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth = env(\"A\", \"b\", \"c\") #<-\n}\n"},
			field: "zookeeper.auth", sentinel: configs.ErrType, msg: "at most one fallback"},
		{name: "file missing", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth = file(\"no-such-file\") #<-\n}\n"},
			field: "zookeeper.auth", sentinel: configs.ErrType, msg: "no-such-file"},
		{name: "unknown function", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth = vault(\"x\") #<-\n}\n"},
			field: "zookeeper.auth", sentinel: configs.ErrType, msg: "function"},
		{name: "variable reference", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth = password #<-\n}\n"},
			field: "zookeeper.auth", sentinel: configs.ErrType, msg: "variables"},
		{name: "secret assembled from env", over: map[string]string{"zookeeper": "zookeeper {\n  servers = [\"127.0.0.1:2181\"]\n  auth = \"${env(\"ZKDR_TEST_SET\")}-nocolon\" #<-\n}\n"},
			field: "", sentinel: nil},

		// Syntax.
		{name: "syntax error", extra: "log {\n  level = = \"info\" #<-\n}\n",
			field: "", sentinel: configs.ErrSyntax, msg: "expected the start of an expression"},
		{name: "redefined argument", extra: "site = \"west\" #<-\n",
			field: "", sentinel: configs.ErrSyntax, msg: `"site" was already set`},
		{name: "unclosed block", extra: "log { #<-\n",
			field: "", sentinel: configs.ErrSyntax, msg: "syntax error: there is no closing brace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := build(tc.over, tc.extra)
			c, err := configs.Parse([]byte(src), "test.hcl")
			if tc.sentinel == nil {
				// A secret built from env() and text is still a secret.
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if strings.Contains(fmt.Sprintf("%+v", c), testSecret) {
					t.Fatalf("secret printed")
				}
				return
			}
			if err == nil {
				t.Fatalf("no error for:\n%s", src)
			}
			t.Log(err)
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q is not %v", err, tc.sentinel)
			}
			line := markedLine(t, src)
			var es configs.Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not configs.Errors", err)
			}
			var found *configs.Error
			for _, e := range es {
				if e.Field == tc.field && errors.Is(e, tc.sentinel) && strings.Contains(strings.ToLower(e.Message), strings.ToLower(tc.msg)) {
					found = e
					break
				}
			}
			if found == nil {
				t.Fatalf("no error for field %q with %q; got:\n%v", tc.field, tc.msg, err)
			}
			if found.File != "test.hcl" || found.Line != line {
				t.Errorf("error at %s:%d, want test.hcl:%d: %v", found.File, found.Line, line, found)
			}
			prefix := fmt.Sprintf("test.hcl:%d:%d: ", line, found.Column)
			if tc.field != "" {
				prefix += tc.field + ": "
			}
			if !strings.HasPrefix(found.Error(), prefix) {
				t.Errorf("error %q does not start with %q", found.Error(), prefix)
			}
			if !strings.Contains(err.Error(), found.Error()) {
				t.Errorf("Errors text %q lacks %q", err, found)
			}
		})
	}
}

// TestParseReportsEveryError checks that one run names every mistake, in
// source order, so a user fixes a config in one pass.
func TestParseReportsEveryError(t *testing.T) {
	src := `site = "east"
initial_role = "primary"
zookeeper {
  servers         = ["127.0.0.1:2181"]
  session_timeout = "10"
}
nats { url = "nats://127.0.0.1:4222" }
peer "west" {
  zookeeper { servers = ["127.0.0.1:2182"] }
}
log {
  level = "loud"
}
`
	_, err := configs.Parse([]byte(src), "east.hcl")
	var es configs.Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v", err)
	}
	// The decode error (duration) stops before validation; the two
	// validation errors come in a second run once it is fixed.
	if len(es) != 1 || es[0].Line != 5 || es[0].Field != "zookeeper.session_timeout" {
		t.Fatalf("decode errors: %v", err)
	}
	want := "east.hcl:5:21: zookeeper.session_timeout: invalid duration \"10\""
	if !strings.HasPrefix(es[0].Error(), want) {
		t.Fatalf("got %q, want prefix %q", es[0], want)
	}

	src = strings.Replace(src, `"10"`, `"10s"`, 1)
	_, err = configs.Parse([]byte(src), "east.hcl")
	if !errors.As(err, &es) {
		t.Fatalf("got %v", err)
	}
	if len(es) != 2 || es[0].Line != 2 || es[1].Line != 12 {
		t.Fatalf("want errors on lines 2 and 12, got:\n%v", err)
	}
	if got := strings.Count(err.Error(), "\n"); got != 1 {
		t.Fatalf("want one error per line, got %q", err)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	err := configs.Default().Validate()
	var es configs.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Default().Validate() = %v, want Errors", err)
	}
	fields := map[string]bool{}
	for _, e := range es {
		if e.File != "" || e.Line != 0 {
			t.Errorf("error without a file has a position: %v", e)
		}
		fields[e.Field] = true
	}
	for _, f := range []string{"site", "zookeeper.servers", "nats.url", "peer"} {
		if !fields[f] {
			t.Errorf("no error for %s in %v", f, err)
		}
	}
	if !strings.HasPrefix(es[0].Error(), es[0].Field+": ") {
		t.Errorf("error %q should start with its field", es[0])
	}

	c := configs.Default()
	c.Site = "east"
	c.ZooKeeper.Servers = []string{"127.0.0.1:2181"}
	c.NATS.URLs = []string{"nats://127.0.0.1:4222"}
	c.NATS.Domain = "east"
	c.Peer.Name = "west"
	c.Peer.ZooKeeper.Servers = []string{"127.0.0.1:2182"}
	c.Peer.ZooKeeper.SessionTimeout = c.ZooKeeper.SessionTimeout
	c.Peer.NATS.Domain = "west"
	if err := c.Validate(); err != nil {
		t.Fatalf("filled-in default: %v", err)
	}
}
