package zkserver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestSuperDigest(t *testing.T) {
	// echo -n super:secret | openssl dgst -sha1 -binary | base64
	if got, want := superDigest("super:secret"), "super:lK75jTNcA+U9vtVEw5vB51mj/w4="; got != want {
		t.Fatalf("superDigest = %q, want %q", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"ensemble", Config{Servers: 3, TickTime: time.Second}, true},
		{"no servers", Config{Servers: 0, TickTime: time.Second}, false},
		{"digest without password", Config{Servers: 1, TickTime: time.Second, SuperDigest: "super"}, false},
		{"bad prop", Config{Servers: 1, TickTime: time.Second, JavaProps: map[string]string{"a b": "1"}}, false},
		{"heap", Config{Servers: 1, TickTime: time.Second, MaxHeap: "4g"}, true},
		{"heap in bytes", Config{Servers: 1, TickTime: time.Second, MaxHeap: "1073741824"}, true},
		{"heap with a unit word", Config{Servers: 1, TickTime: time.Second, MaxHeap: "4 GB"}, false},
		{"heap option injected", Config{Servers: 1, TickTime: time.Second, MaxHeap: "1g -Dx=y"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func connect(t *testing.T, servers []string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// retry runs op until it succeeds or the deadline passes: clients see transient
// errors while an ensemble elects a leader.
func retry(t *testing.T, timeout time.Duration, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestStandaloneServes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts java")
	}
	c := StartT(t, Config{SuperDigest: "super:secret", ExtendedTypes: true})
	if l, err := c.Leader(); err != nil || l != 0 {
		t.Fatalf("Leader() = %d, %v", l, err)
	}
	conn := connect(t, c.Servers())
	if _, err := conn.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v", err)
	}

	// The super user may read a node whose ACL admits nobody else.
	if _, err := conn.Create("/locked", []byte("s"), 0, zk.DigestACL(zk.PermAll, "someone", "pw")); err != nil {
		t.Fatalf("create locked: %v", err)
	}
	if _, _, err := conn.Get("/locked"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("get locked without auth: %v", err)
	}
	su := connect(t, c.Servers())
	if err := su.AddAuth("digest", []byte("super:secret")); err != nil {
		t.Fatalf("add auth: %v", err)
	}
	if d, _, err := su.Get("/locked"); err != nil || string(d) != "s" {
		t.Fatalf("get locked as super: %q, %v", d, err)
	}

	// TTL nodes need extended types.
	if _, err := conn.CreateTTL("/ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Hour); err != nil {
		t.Fatalf("create ttl: %v", err)
	}

	// The server's log never holds the credentials or their digest.
	if b, err := os.ReadFile(c.LogPath(0)); err != nil || bytes.Contains(b, []byte("secret")) || bytes.Contains(b, []byte(superDigest("super:secret")[6:])) {
		t.Fatalf("server log holds credentials (read err %v)", err)
	}

	// Kill and restart: same address, data kept.
	if err := c.Kill(0); err != nil {
		t.Fatal(err)
	}
	if c.Running(0) {
		t.Fatal("server still running after Kill")
	}
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	// A fresh client each try: the old one's session expired with the
	// server, and what go-zookeeper makes of that is not under test here.
	retry(t, 60*time.Second, "read after restart", func() error {
		fresh, _, err := zk.Connect(c.Servers(), 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			return err
		}
		defer fresh.Close()
		d, _, err := fresh.Get("/a")
		if err == nil && string(d) != "x" {
			return errors.New("data = " + string(d))
		}
		return err
	})

	// Graceful stop and restart.
	if err := c.Stop(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(0); !errors.Is(err, ErrRunning) {
		t.Fatalf("Restart of a running server: %v", err)
	}
}

func TestEnsembleSurvivesLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts java")
	}
	start := time.Now()
	c := StartT(t, Config{Servers: 3})
	t.Logf("ensemble serving after %v", time.Since(start))
	if got := len(strings.Split(c.ConnectString(), ",")); got != 3 {
		t.Fatalf("ConnectString has %d servers", got)
	}
	conn := connect(t, c.Servers())
	if _, err := conn.Create("/before", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v", err)
	}
	old, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(old); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader %d after %v", leader, time.Since(killed))
	if leader == old {
		t.Fatalf("leader is still the killed server %d", old)
	}
	retry(t, 60*time.Second, "write after leader loss", func() error {
		_, err := conn.Create("/after", []byte("2"), 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		return err
	})

	restarted := time.Now()
	if err := c.Restart(old); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed server rejoined after %v", time.Since(restarted))
	m, err := c.Mode(old)
	if err != nil || (m != "follower" && m != "leader") {
		t.Fatalf("restarted server mode = %q, %v", m, err)
	}
	// The rejoined server has the write made while it was down.
	only := connect(t, []string{c.Servers()[old]})
	retry(t, 30*time.Second, "read on rejoined server", func() error {
		if _, err := only.Sync("/after"); err != nil {
			return err
		}
		_, _, err := only.Get("/after")
		return err
	})
}

func TestStartErrorsWhenNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := Start(Config{}); !errors.Is(err, ErrJavaNotInstalled) {
		t.Fatalf("Start without java: %v", err)
	}
}

// TestStartPicksNewPortsAfterLosingARace takes the client port Start picks first,
// as another process on the machine might, and checks Start retries on new ports.
func TestStartPicksNewPortsAfterLosingARace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts java")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if err == nil && calls == 1 {
			ports[0] = taken.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	defer func() { pickPorts = freePorts }()
	c := StartT(t, Config{})
	if calls < 2 {
		t.Fatalf("ports picked %d times, want a retry", calls)
	}
	if c.Servers()[0] == taken.Addr().String() {
		t.Fatal("server reports the taken port")
	}
}
