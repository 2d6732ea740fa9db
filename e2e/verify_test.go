package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

// zkdr verify reports equal trees as equal and finds a difference in data, in
// an ACL and a missing node, exiting non-zero.
func TestVerify(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	for _, c := range []*zk.Conn{east, west} {
		mustCreate(t, c, "/v", []byte("v"), 0, nil)
		mustCreate(t, c, "/v/data", []byte("same"), 0, nil)
		mustCreate(t, c, "/v/acl", []byte("a"), 0, nil)
		mustCreate(t, c, "/v/gone", []byte("g"), 0, nil)
		mustCreate(t, c, "/w", []byte("untouched"), 0, nil)
	}
	verify := func() (string, error) {
		cmd := exec.Command(zkdrBin, "verify", "--source", p.zk["east"].ConnectString(), "--target", p.zk["west"].ConnectString())
		cmd.Env = append(os.Environ(), "ZKDR_ZK_AUTH="+superAuth)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := verify()
	if err != nil || !strings.Contains(out, "equal") {
		t.Fatalf("verify of equal trees: %v\n%s", err, out)
	}
	if _, err := west.Set("/v/data", []byte("changed"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := west.SetACL("/v/acl", zk.WorldACL(zk.PermRead), -1); err != nil {
		t.Fatal(err)
	}
	if err := west.Delete("/v/gone", -1); err != nil {
		t.Fatal(err)
	}
	out, err = verify()
	if err == nil {
		t.Fatalf("verify of different trees exited 0:\n%s", out)
	}
	for _, want := range []string{"/v/data: data", "/v/acl: acl", "/v/gone: missing on target", "DIFFERS", "trees differ in 3 places"} {
		if !strings.Contains(out, want) {
			t.Fatalf("verify output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "/w") || strings.Contains(out, "/w: ") {
		t.Fatalf("verify should show /w as an equal subtree:\n%s", out)
	}
	if strings.Contains(out, strings.SplitN(superAuth, ":", 2)[1]) {
		t.Fatal("verify printed the credential")
	}
}
