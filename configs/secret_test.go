package configs_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/configs"
)

// TestSecretsNeverPrinted loads a config whose every secret field is set and
// prints it every way a daemon or CLI might: none of the values may appear.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := map[string]string{
		"ZKDR_ZK_AUTH":      "zkdr:zk-Secret-1",
		"ZKDR_PEER_ZK_AUTH": "zkdr:zk-Secret-2",
		"T_NATS_PASSWORD":   "nats-Secret-3",
		"T_NATS_TOKEN":      "nats-Secret-4",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	src := strings.Replace(string(configs.Examples()["east.hcl"]),
		`creds  = "/etc/zkdr/east.creds" `,
		`user = "zkdr"
  password = env("T_NATS_PASSWORD")
  `, 1)
	src = strings.Replace(src, `creds = "/etc/zkdr/east.creds"`, `token = env("T_NATS_TOKEN")`, 1)
	c, err := configs.Parse([]byte(src), "east.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if c.ZooKeeper.Auth.Reveal() != secrets["ZKDR_ZK_AUTH"] || c.Peer.ZooKeeper.Auth.Reveal() != secrets["ZKDR_PEER_ZK_AUTH"] ||
		c.NATS.Password.Reveal() != secrets["T_NATS_PASSWORD"] || c.Peer.NATS.Token.Reveal() != secrets["T_NATS_TOKEN"] {
		t.Fatalf("secrets not loaded: %q %q %q %q", c.ZooKeeper.Auth.Reveal(), c.Peer.ZooKeeper.Auth.Reveal(),
			c.NATS.Password.Reveal(), c.Peer.NATS.Token.Reveal())
	}

	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jsIndent, _ := json.MarshalIndent(c.Peer, "", "  ")
	var hclogOut, slogOut strings.Builder
	hl := hclog.New(&hclog.LoggerOptions{Output: &hclogOut, JSONFormat: false})
	hl.Info("config", "config", c, "auth", c.ZooKeeper.Auth)
	hlj := hclog.New(&hclog.LoggerOptions{Output: &hclogOut, JSONFormat: true})
	hlj.Info("config", "zookeeper", c.ZooKeeper, "auth", c.ZooKeeper.Auth)
	slog.New(slog.NewJSONHandler(&slogOut, nil)).Info("config", "config", c, "auth", c.ZooKeeper.Auth)
	slog.New(slog.NewTextHandler(&slogOut, nil)).Info("config", "auth", c.ZooKeeper.Auth, "nats", c.NATS)

	outputs := map[string]string{
		"%v":        fmt.Sprintf("%v", c),
		"%+v":       fmt.Sprintf("%+v", c),
		"%#v":       fmt.Sprintf("%#v", c),
		"%v value":  fmt.Sprintf("%v", *c),
		"%+v value": fmt.Sprintf("%+v", *c),
		"%#v value": fmt.Sprintf("%#v", *c),
		"%s":        fmt.Sprintf("%s", c.ZooKeeper),
		"%q":        fmt.Sprintf("%q", c.ZooKeeper.Auth),
		"%x":        fmt.Sprintf("%x", c.ZooKeeper.Auth),
		"%X":        fmt.Sprintf("%X", c.NATS),
		"%d":        fmt.Sprintf("%d", c.NATS.Password),
		"%10.3s":    fmt.Sprintf("%10.3s", c.NATS.Token),
		"Sprint":    fmt.Sprint(c.ZooKeeper.Auth, c.Peer),
		"String":    c.ZooKeeper.Auth.String(),
		"GoString":  c.ZooKeeper.Auth.GoString(),
		"json":      string(js),
		"json peer": string(jsIndent),
		"hclog":     hclogOut.String(),
		"slog":      slogOut.String(),
	}
	for how, out := range outputs {
		for name, secret := range secrets {
			// Compare the password halves too: "zkdr:" alone is not secret.
			_, pw, _ := strings.Cut(secret, ":")
			if strings.Contains(out, secret) || (pw != "" && strings.Contains(out, pw)) {
				t.Errorf("%s prints %s:\n%s", how, name, out)
			}
		}
		if !strings.Contains(out, configs.Redacted) {
			t.Errorf("%s does not show %s:\n%s", how, configs.Redacted, out)
		}
	}
	t.Logf("%+v", c)
}

func TestSecretValue(t *testing.T) {
	var zero configs.Secret
	if zero.IsSet() || zero.Reveal() != "" || zero != (configs.Secret{}) {
		t.Errorf("zero Secret is not empty")
	}
	s := configs.NewSecret("a:b")
	if !s.IsSet() || s.Reveal() != "a:b" {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	if got := fmt.Sprintf("%#v", s); got != `configs.Secret("[redacted]")` {
		t.Errorf("%%#v = %s", got)
	}
	if b, _ := s.MarshalText(); string(b) != configs.Redacted {
		t.Errorf("MarshalText = %s", b)
	}
}
