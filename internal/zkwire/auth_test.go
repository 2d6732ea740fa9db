package zkwire

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkserver"
)

// lockedBuffer collects log output to check it for secrets.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAuth(t *testing.T) {
	zkc := startZK(t, zkserver.Config{Servers: 1, SuperDigest: "super:secret"})
	alice := zk.DigestACL(zk.PermAll, "alice", "alicepw")
	owner := dialT(t, Config{Servers: zkc.Servers(), Auth: "alice:alicepw"})
	must(t, owner.Create("/private", []byte("p"), 0, alice))

	t.Run("super user reads", func(t *testing.T) {
		var logs lockedBuffer
		c := dialT(t, Config{Servers: zkc.Servers(), Auth: "super:secret",
			Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})})
		d := must(t, c.GetData("/private"))
		if string(d.Data) != "p" {
			t.Fatalf("data %q", d.Data)
		}
		// With ADMIN the digest hash is shown as set.
		acl := must(t, c.GetACL("/private"))
		if len(acl.ACL) != 1 || acl.ACL[0] != alice[0] {
			t.Fatalf("acl %+v, want %+v", acl.ACL, alice)
		}
		_ = c.Close()
		if strings.Contains(logs.String(), "secret") {
			t.Fatalf("password in logs:\n%s", logs.String())
		}
	})
	t.Run("no auth", func(t *testing.T) {
		c := dialT(t, Config{Servers: zkc.Servers()})
		if _, err := wait(t, c.GetData("/private")); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("err %v, want zk.ErrNoAuth", err)
		}
	})
	t.Run("wrong password is another identity", func(t *testing.T) {
		// The digest provider accepts any "user:password": it only names an
		// identity, so a wrong password connects and then lacks permission.
		c := dialT(t, Config{Servers: zkc.Servers(), Auth: "super:wrong"})
		if _, err := wait(t, c.GetData("/private")); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("err %v, want zk.ErrNoAuth", err)
		}
	})
}

func TestAuthRefused(t *testing.T) {
	// With the digest provider disabled the server refuses the "digest" scheme
	// with AUTHFAILED and closes the connection.
	zkc := startZK(t, zkserver.Config{Servers: 1, JavaProps: map[string]string{
		"zookeeper.DigestAuthenticationProvider.enabled": "false",
	}})
	var logs lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := DefaultConfig()
	cfg.Servers = zkc.Servers()
	cfg.Auth = "super:hunter2"
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	c, err := Dial(ctx, cfg)
	if err == nil {
		_ = c.Close()
		t.Fatal("dial succeeded")
	}
	if !errors.Is(err, ErrAuthFailed) || !errors.Is(err, zk.ErrAuthFailed) {
		t.Fatalf("err %v, want ErrAuthFailed and zk.ErrAuthFailed", err)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(logs.String(), "hunter2") {
		t.Fatalf("password shown: %v\n%s", err, logs.String())
	}
}

func TestValidateHidesAuth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Servers = []string{"127.0.0.1:2181"}
	cfg.Auth = "nocolonhunter2"
	err := cfg.Validate()
	if !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err %v", err)
	}
}
