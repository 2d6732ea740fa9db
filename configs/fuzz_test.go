package configs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zkdr/zkdr/configs"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, every failure
// must be Errors of located *Error values, and whatever it accepts must pass
// Validate again.
func FuzzParse(f *testing.F) {
	for _, src := range configs.Examples() {
		f.Add(src)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(build(nil, "")))
	f.Add([]byte(minimal + "journal { max_bytes = \"1.5GB\"\n linger = \"1ms\" }\n"))
	f.Add([]byte(minimal + "failover {\n hook \"a\" { command = [\"x\"] }\n}\n"))
	f.Add([]byte(minimal + "replication {\n mapping {\n from = \"/a\"\n to = \"/b\"\n }\n}\n"))
	f.Add([]byte("site = env(\"HOME\", \"x\")\nsite = file(\"/dev/null\")\n"))
	f.Add([]byte("a = [for x in [1,2]: x]\nb = \"${1+1}\"\nc = <<EOT\nheredoc\nEOT\n"))
	f.Add([]byte("peer \"a\" \"b\" { }\npeer {}\n"))
	f.Setenv("ZKDR_ZK_AUTH", "a:b")
	f.Setenv("ZKDR_PEER_ZK_AUTH", "a:b")
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := configs.Parse(src, "fuzz.hcl")
		if err != nil {
			var es configs.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T is not non-empty Errors: %v", err, err)
			}
			for _, e := range es {
				if e.File != "fuzz.hcl" || e.Line < 1 || e.Err == nil || e.Message == "" {
					t.Fatalf("unlocated or unclassified error: %#v", e)
				}
				if !strings.HasPrefix(e.Error(), "fuzz.hcl:") {
					t.Fatalf("error text %q lacks the file", e)
				}
			}
			return
		}
		if c == nil {
			t.Fatal("nil config without error")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
	})
}
