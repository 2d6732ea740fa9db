package zkserver

import (
	"strings"

	"github.com/hashicorp/go-hclog"
)

// TB is the part of testing.TB the test helpers use. It is an interface of
// its own so that the zkdr binary, which starts ZooKeeper for `zkdr dev`, does
// not link the testing package.
type TB interface {
	Helper()
	TempDir() string
	Cleanup(func())
	Failed() bool
	Log(args ...any)
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// StartT is Start for tests: the cluster lives in t.TempDir(), is closed in
// t.Cleanup, and when the test fails the end of every server's log goes to t.Log.
func StartT(t TB, cfg Config) *Cluster {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: TestWriter{T: t}, Level: hclog.Debug})
	}
	c, err := Start(cfg)
	if err != nil {
		t.Fatalf("start zookeeper: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range c.servers {
				t.Logf("zookeeper server %d log (%s):\n%s", i+1, c.LogPath(i), tailFile(c.LogPath(i), 30))
			}
		}
		// Temp dirs in t.TempDir are removed after this cleanup; kill rather than
		// wait for a clean shutdown.
		c.killAll()
		if err := c.Close(); err != nil {
			t.Errorf("close zookeeper: %v", err)
		}
	})
	return c
}

// TestWriter is an io.Writer that sends each write to t.Log, for hclog.LoggerOptions.Output.
type TestWriter struct{ T TB }

func (w TestWriter) Write(p []byte) (int, error) {
	w.T.Helper()
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
