package configs_test

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/zkdr/zkdr/configs"
)

func setExampleEnv(t *testing.T) {
	t.Setenv("ZKDR_ZK_AUTH", "zkdr:example-local")
	t.Setenv("ZKDR_PEER_ZK_AUTH", "zkdr:example-peer")
}

func TestExamplesLoadAndValidate(t *testing.T) {
	setExampleEnv(t)
	ex := configs.Examples()
	var names []string
	for name := range ex {
		names = append(names, name)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"dev.hcl", "east.hcl", "west.hcl"}) {
		t.Fatalf("Examples() = %v", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			// The embedded copy is the file in the repository.
			disk, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if string(disk) != string(ex[name]) {
				t.Fatalf("embedded %s differs from the file", name)
			}
			c, err := configs.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate after Load: %v", err)
			}
			if _, err := configs.Parse(ex[name], name); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Examples returns copies: a caller cannot change the next caller's bytes.
	ex["dev.hcl"][0] = 'X'
	if configs.Examples()["dev.hcl"][0] == 'X' {
		t.Fatal("Examples shares its bytes")
	}
}

// TestExamplePairMirrors checks that east.hcl and west.hcl describe the same
// pair from each side.
func TestExamplePairMirrors(t *testing.T) {
	setExampleEnv(t)
	east, err := configs.Load("east.hcl")
	if err != nil {
		t.Fatal(err)
	}
	west, err := configs.Load("west.hcl")
	if err != nil {
		t.Fatal(err)
	}
	eq := func(what string, a, b any) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: %v != %v", what, a, b)
		}
	}
	eq("east's peer is west", east.Peer.Name, west.Site)
	eq("west's peer is east", west.Peer.Name, east.Site)
	eq("east peer servers", east.Peer.ZooKeeper.Servers, west.ZooKeeper.Servers)
	eq("west peer servers", west.Peer.ZooKeeper.Servers, east.ZooKeeper.Servers)
	eq("east peer domain", east.Peer.NATS.Domain, west.NATS.Domain)
	eq("west peer domain", west.Peer.NATS.Domain, east.NATS.Domain)
	eq("scope", east.Replication, west.Replication)
	eq("journal", east.Journal, west.Journal)
	eq("roles", []configs.Role{east.InitialRole, west.InitialRole}, []configs.Role{configs.RoleActive, configs.RoleStandby})
	if east.Journal.Replicas != 3 || len(east.ZooKeeper.Servers) != 3 || len(east.NATS.URLs) != 3 {
		t.Errorf("east is not a production layout: %+v", east)
	}
	if east.ZooKeeper.Auth.Reveal() != "zkdr:example-local" || east.Peer.ZooKeeper.Auth.Reveal() != "zkdr:example-peer" {
		t.Errorf("auth not read from the environment")
	}
}

func TestDevExampleIsLoopback(t *testing.T) {
	c, err := configs.Parse(configs.Examples()["dev.hcl"], "dev.hcl")
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(append([]string{}, c.ZooKeeper.Servers...), c.Peer.ZooKeeper.Servers...), c.NATS.URLs...)
	all = append(all, c.Peer.NATS.URLs...)
	for _, a := range all {
		if !strings.Contains(a, "127.0.0.1") {
			t.Errorf("%s is not a loopback address", a)
		}
	}
	if !c.Journal.SyncAlways {
		t.Errorf("dev mode must use always-sync")
	}
}

func TestMissingEnvInExampleNamesFileLineField(t *testing.T) {
	t.Setenv("ZKDR_PEER_ZK_AUTH", "zkdr:x")
	_ = os.Unsetenv("ZKDR_ZK_AUTH") // t.Setenv above restores the environment
	_, err := configs.Load("east.hcl")
	if err == nil {
		t.Fatal("east.hcl loaded without ZKDR_ZK_AUTH")
	}
	src, _ := os.ReadFile("east.hcl")
	line, col := 0, 0
	for i, l := range strings.Split(string(src), "\n") {
		if c := strings.Index(l, `env("ZKDR_ZK_AUTH")`); c >= 0 {
			line, col = i+1, c+1
			break
		}
	}
	want := fmt.Sprintf("east.hcl:%d:%d: zookeeper.auth: call to function \"env\" failed: environment variable ZKDR_ZK_AUTH is not set", line, col)
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
}
