package journal

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/zkdr/zkdr/internal/natsserver"
)

type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Info, Output: tLogWriter{t}})
}

func startServer(t testing.TB, site string) *natsserver.Server {
	return natsserver.StartT(t, natsserver.Config{Site: site, LeafPort: natsserver.NoLeafListener})
}

// connect returns a client that keeps reconnecting, so tests can restart servers.
func connect(t testing.TB, url string, domain string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	var js jetstream.JetStream
	if domain == "" {
		js, err = jetstream.New(nc)
	} else {
		js, err = jetstream.NewWithDomain(nc, domain)
	}
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func ensureStream(t testing.TB, js jetstream.JetStream, cfg StreamConfig) {
	t.Helper()
	if _, err := EnsureStream(testCtx(t, 30*time.Second), js, cfg); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
}

func newAppender(t testing.TB, js jetstream.JetStream, site, writer string, epoch uint64, mod ...func(*AppenderConfig)) *Appender {
	t.Helper()
	cfg := DefaultAppenderConfig(site)
	cfg.WriterID, cfg.Epoch, cfg.Logger = writer, epoch, testLogger(t)
	for _, m := range mod {
		m(&cfg)
	}
	a, err := NewAppender(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the server's cleanup, so it runs before it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	return a
}

// numbered is event i of a test sequence: its zxid and path identify it.
func numbered(i int, dataLen int) Event {
	return Event{Kind: KindUpdate, Path: fmt.Sprintf("/n/%06d", i), Zxid: int64(i), Data: make([]byte, dataLen),
		Stat: Stat{Mzxid: int64(i), Version: int32(i)}}
}

// readN reads messages from startSeq until it holds n events, checking that
// message sequences are contiguous.
func readN(t testing.TB, js jetstream.JetStream, stream string, startSeq uint64, n int) []Message {
	t.Helper()
	r, err := NewReader(js, ReaderConfig{Stream: stream, StartSeq: startSeq, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := testCtx(t, 60*time.Second)
	var out []Message
	events := 0
	next := startSeq
	for events < n {
		ms, err := r.Fetch(ctx, 500)
		if err != nil {
			t.Fatalf("fetch after %d events: %v", events, err)
		}
		for _, m := range ms {
			if m.FirstSeq != next {
				t.Fatalf("message starts at sequence %d, want %d", m.FirstSeq, next)
			}
			next = m.Seq + 1
			events += len(m.Events)
		}
		out = append(out, ms...)
	}
	return out
}

// zxids flattens messages to the zxids of their events.
func zxids(ms []Message) []int64 {
	var z []int64
	for _, m := range ms {
		for _, e := range m.Events {
			z = append(z, e.Zxid)
		}
	}
	return z
}

// checkExactlyOnce fails unless got is 1..n in order.
func checkExactlyOnce(t testing.TB, got []int64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("stream holds %d events, want %d", len(got), n)
	}
	for i, z := range got {
		if z != int64(i+1) {
			t.Fatalf("event %d has zxid %d, want %d (gap, duplicate or reorder)", i, z, i+1)
		}
	}
}
