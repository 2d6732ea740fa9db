package zkwire

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zkserver"
)

// fastSync makes writes cheap on a loaded machine; nothing here survives a crash anyway.
var fastSync = map[string]string{"zookeeper.forceSync": "no"}

func startZK(t *testing.T, cfg zkserver.Config) *zkserver.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	if cfg.JavaProps == nil {
		cfg.JavaProps = map[string]string{}
	}
	for k, v := range fastSync {
		if _, ok := cfg.JavaProps[k]; !ok {
			cfg.JavaProps[k] = v
		}
	}
	return zkserver.StartT(t, cfg)
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: zkserver.TestWriter{T: t}, Level: hclog.Debug})
}

// recorder collects events in order.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) on(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func (r *recorder) kinds() []EventKind {
	var out []EventKind
	for _, ev := range r.snapshot() {
		if ev.Kind != EventNotification {
			out = append(out, ev.Kind)
		}
	}
	return out
}

func (r *recorder) notifications() []Event {
	var out []Event
	for _, ev := range r.snapshot() {
		if ev.Kind == EventNotification {
			out = append(out, ev)
		}
	}
	return out
}

func dialT(t *testing.T, cfg Config) *Conn {
	t.Helper()
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = DefaultConfig().SessionTimeout
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConfig().ConnectTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// goZK is the independent second client.
func goZK(t *testing.T, servers []string) *zk.Conn {
	t.Helper()
	zc, ev, err := zk.Connect(servers, 10*time.Second, zk.WithLogger(zkLogger{t}))
	if err != nil {
		t.Fatalf("go-zookeeper connect: %v", err)
	}
	t.Cleanup(zc.Close)
	eventually.True(t, 60*time.Second, "go-zookeeper session", func() bool {
		return zc.State() == zk.StateHasSession
	})
	go func() {
		for range ev {
		}
	}()
	return zc
}

type zkLogger struct{ t testing.TB }

func (l zkLogger) Printf(format string, args ...any) { l.t.Logf("go-zookeeper: "+format, args...) }

func wait[T any](t testing.TB, call *Call[T]) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v, err := call.Wait(ctx)
	if err == context.DeadlineExceeded {
		t.Fatalf("call did not complete")
	}
	return v, err
}

func must[T any](t testing.TB, call *Call[T]) T {
	t.Helper()
	v, err := wait(t, call)
	if err != nil {
		t.Fatalf("call failed: %v", err)
	}
	return v
}

// checkNoLeak fails the test if goroutines started since base are still
// running after the grace period.
func checkNoLeak(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d, started with %d\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
