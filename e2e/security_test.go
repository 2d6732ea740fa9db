package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/natsserver"
	"github.com/zkdr/zkdr/internal/testcerts"
)

// The secrets of the secure pair. Each is distinctive, so a search for it in
// logs, outputs and files cannot match anything else.
const (
	natsUser     = "zkdr"
	natsPassword = "nats-pw-Q7v2x9"
	leafUser     = "leaf"
	leafPassword = "leaf-pw-K4m8z1"
	storeKey     = "store-key-W3n6p5"
	// plainMarker is znode data that must never be readable in the journal's files.
	plainMarker = "plaintext-marker-J8c4r2"
)

// securePair is a pair whose NATS servers take clients and leafnodes only over
// TLS with a client certificate and credentials, and encrypt JetStream's files;
// the daemons authenticate to NATS with those credentials and certificate, and
// to the standby's ZooKeeper with the superDigest identity. West's server takes
// a user and password. East's takes the same, or with credsEast runs in
// operator mode and takes a .creds file (user JWT and nkey seed) from the east
// daemon and from west's leafnode.
func securePair(t *testing.T, credsEast bool, opts ...pairOption) (*pair, *testcerts.Set) {
	t.Helper()
	dir := t.TempDir()
	certs, err := testcerts.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	var op *natsOperator
	if credsEast {
		op = newNATSOperator(t, filepath.Join(dir, "zkdr.creds"))
	}
	t.Setenv("ZKDR_E2E_NATS_PASSWORD", natsPassword)
	opts = append(opts, withNATS(func(site string, c *natsserver.Config) {
		c.EncryptionKey = storeKey
		c.Configure = func(o *server.Options) {
			o.TLSConfig, o.TLSVerify = certs.ServerTLS(true), true
			if site == "east" && op != nil {
				op.configure(o)
			} else {
				o.Users = []*server.User{{Username: natsUser, Password: natsPassword}}
			}
			if o.LeafNode.Port != 0 {
				o.LeafNode.TLSConfig = certs.ServerTLS(true)
				if op == nil {
					o.LeafNode.Username, o.LeafNode.Password = leafUser, leafPassword
				}
			}
			for _, r := range o.LeafNode.Remotes {
				r.TLS, r.TLSConfig = true, certs.ClientTLS()
				if op != nil {
					r.Credentials = op.creds
					continue
				}
				for _, u := range r.URLs {
					u.User = url.UserPassword(leafUser, leafPassword)
				}
			}
		}
	}), withConfig(func(site string, c *configs.Config) {
		if site == "east" && op != nil {
			c.NATS.Creds = op.creds
		} else {
			c.NATS.User, c.NATS.Password = natsUser, configs.NewSecret(natsPassword)
		}
		c.NATS.TLS = configs.TLS{CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}
	}))
	return newPair(t, opts...), certs
}

// natsOperator is NATS's decentralized auth for one server: an operator, one
// account with JetStream, and one user whose .creds file is at creds.
type natsOperator struct {
	operator       *jwt.OperatorClaims
	account, ajwt  string
	system, sysJWT string
	creds          string
}

func newNATSOperator(t *testing.T, creds string) *natsOperator {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, err := okp.PublicKey()
	must(err)
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "zkdr-e2e"
	ojwt, err := oc.Encode(okp)
	must(err)
	operator, err := jwt.DecodeOperatorClaims(ojwt)
	must(err)
	akp, err := nkeys.CreateAccount()
	must(err)
	apub, err := akp.PublicKey()
	must(err)
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "zkdr"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	must(err)
	skp, err := nkeys.CreateAccount()
	must(err)
	spub, err := skp.PublicKey()
	must(err)
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sjwt, err := sc.Encode(okp)
	must(err)
	ukp, err := nkeys.CreateUser()
	must(err)
	upub, err := ukp.PublicKey()
	must(err)
	ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
	must(err)
	seed, err := ukp.Seed()
	must(err)
	file, err := jwt.FormatUserConfig(ujwt, seed)
	must(err)
	must(os.WriteFile(creds, file, 0o600))
	return &natsOperator{operator: operator, account: apub, ajwt: ajwt, system: spub, sysJWT: sjwt, creds: creds}
}

func (n *natsOperator) configure(o *server.Options) {
	o.TrustedOperators = []*jwt.OperatorClaims{n.operator}
	r := &server.MemAccResolver{}
	_ = r.Store(n.account, n.ajwt)
	_ = r.Store(n.system, n.sysJWT)
	o.AccountResolver, o.SystemAccount = r, n.system
}

// TestSecureSites: scenario 12. Both sites replicate over TLS with client
// certificates and NATS credentials (east a .creds file in operator mode, west
// user and password), JetStream encrypted at rest; the standby's applier writes
// with its digest identity. Then no secret shows in any daemon log, in zkdr
// status (table and JSON), in journal info or in /metrics, and the znode data
// is nowhere in the journal's files in clear.
func TestSecureSites(t *testing.T) {
	metricsAddr := freeAddr(t)
	p, _ := securePair(t, true, withConfig(func(site string, c *configs.Config) {
		if site == "west" {
			c.Metrics.Listen = metricsAddr
		}
	}))
	creds, err := os.ReadFile(p.cfg["east"].NATS.Creds)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"NATS password": natsPassword, "creds file's seed": credsSeed(t, creds), "leafnode password": leafPassword, "store key": storeKey,
		"ZooKeeper digest password": strings.SplitN(superAuth, ":", 2)[1],
	}
	east := p.conn["east"]
	mustCreate(t, east, "/sec", nil, 0, nil)
	// A node only the digest identity may read: the applier must carry it and
	// its ACL.
	mustCreate(t, east, "/sec/locked", []byte(plainMarker+"-locked"), 0, zk.DigestACL(zk.PermAll, "super", strings.SplitN(superAuth, ":", 2)[1]))
	p.startProcess("east")
	p.startProcess("west")
	for i := range 200 {
		mustCreate(t, east, fmt.Sprintf("/sec/n%03d", i), []byte(fmt.Sprintf("%s-%03d", plainMarker, i)), 0, nil)
	}
	p.waitConverged(3 * time.Minute)
	waitFor(t, time.Minute, "a watermark on west", func() bool { return readCheckpoint(t, p.conn["west"]).WatermarkZxid != 0 })

	outputs := map[string]string{}
	for _, args := range [][]string{
		{"status", "--config", p.configFile("east")},
		{"status", "--config", p.configFile("east"), "--json"},
		{"journal", "info", "--config", p.configFile("west")},
	} {
		out, err := p.zkdr(args...)
		if err != nil {
			t.Fatalf("zkdr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		outputs["zkdr "+strings.Join(args[:2], " ")+" "+args[len(args)-1]] = out
	}
	if !strings.Contains(outputs["zkdr status --config "+p.configFile("east")], "WATERMARK") {
		t.Fatalf("zkdr status did not reach both sites:\n%s", outputs["zkdr status --config "+p.configFile("east")])
	}
	outputs["/metrics"] = httpGet(t, "http://"+metricsAddr+"/metrics", 200)
	p.daemons["east"].stop()
	p.daemons["west"].stop()
	logs, err := filepath.Glob(filepath.Join(p.dir, "*.log"))
	if err != nil || len(logs) < 2 {
		t.Fatalf("daemon logs: %v %v", logs, err)
	}
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		outputs["log "+filepath.Base(f)] = string(b)
	}
	for where, out := range outputs {
		for what, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the %s", where, what)
			}
		}
	}
	for _, site := range []string{"east", "west"} {
		found, files := natsserver.FindInStore(t, p.nats[site].StoreDir(), []byte(plainMarker))
		if files == 0 {
			t.Fatalf("%s: no journal files", site)
		}
		if found {
			t.Errorf("%s: znode data in clear in the journal's files", site)
		}
		t.Logf("%s: %d journal files, none holds the znode data in clear", site, files)
	}
	t.Logf("no secret in %d outputs and logs", len(outputs))
}

// TestWrongCredentials: a wrong NATS password, a CA that does not sign the
// server's certificate and a missing client certificate each make zkdr status
// say what failed, for which server, without the secret; a daemon started
// with a wrong password keeps retrying with a clear message and does not exit.
func TestWrongCredentials(t *testing.T) {
	p, _ := securePair(t, false)
	other, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tune func(c *configs.Config)
		env  string
		want string
	}{
		{"wrong password", nil, "ZKDR_E2E_NATS_PASSWORD=wrong-pw-T5b1", "authorization violation"},
		{"unknown CA", func(c *configs.Config) { c.NATS.TLS.CAFile = other.CAFile }, "", "certificate"},
		// TLS 1.3 reports the server's refusal as an alert or as a closed
		// connection after the handshake, depending on timing.
		{"no client certificate", func(c *configs.Config) { c.NATS.TLS.CertFile, c.NATS.TLS.KeyFile = "", "" }, "", "tls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := *p.cfg["east"]
			if tc.tune != nil {
				tc.tune(&cfg)
			}
			path := filepath.Join(p.dir, strings.ReplaceAll(tc.name, " ", "-")+".hcl")
			if err := os.WriteFile(path, []byte(hclFor(&cfg)), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, zkdrBin, "status", "--config", path)
			cmd.Env = os.Environ()
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			out, err := cmd.CombinedOutput()
			text := string(out)
			t.Logf("zkdr status (%v):\n%s", err, text)
			if !strings.Contains(strings.ToLower(text), tc.want) {
				t.Fatalf("zkdr status does not say %q", tc.want)
			}
			if !strings.Contains(text, p.nats["east"].ClientURL()[len("nats://"):]) {
				t.Errorf("zkdr status does not name the server %s", p.nats["east"].ClientURL())
			}
			for _, s := range []string{natsPassword, "wrong-pw-T5b1"} {
				if strings.Contains(text, s) {
					t.Errorf("zkdr status printed a password")
				}
			}
		})
	}

	// A daemon with a wrong password: it stays up, says why at growing
	// intervals, and never prints the password.
	t.Setenv("ZKDR_E2E_NATS_PASSWORD", "wrong-pw-T5b1")
	d := p.startProcess("west")
	logPath := func() string {
		logs, _ := filepath.Glob(filepath.Join(p.dir, "west-*.log"))
		if len(logs) == 0 {
			return ""
		}
		return logs[len(logs)-1]
	}
	var log string
	waitFor(t, 90*time.Second, "two logged NATS authorization failures", func() bool {
		b, _ := os.ReadFile(logPath())
		log = string(b)
		return strings.Count(strings.ToLower(log), "authorization violation") >= 2
	})
	select {
	case <-d.done:
		t.Fatalf("the daemon exited: %v\n%s", d.err, log)
	default:
	}
	if strings.Contains(log, "wrong-pw-T5b1") || strings.Contains(log, natsPassword) {
		t.Fatal("the daemon's log shows the password")
	}
	t.Logf("daemon log with a wrong password:\n%s", tail(log, 3000))
}

// credsSeed is the nkey seed in a .creds file.
func credsSeed(t *testing.T, creds []byte) string {
	t.Helper()
	kp, err := jwt.ParseDecoratedNKey(creds)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return string(seed)
}
