package natsserver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/internal/eventually"
)

func connect(t *testing.T, s *Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to %s: %v", s.Domain(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: tWriter{t}, Level: hclog.Warn})
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"no site", Config{}, false},
		{"dotted site", Config{Site: "a.b"}, false},
		{"no leaf listener", Config{Site: "a", LeafPort: NoLeafListener}, true},
		{"bad leaf port", Config{Site: "a", LeafPort: -2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestStartAndRestartKeepsStreamAndPorts(t *testing.T) {
	s := StartT(t, Config{Site: "east", SyncAlways: true, MaxPayload: 4 << 20, Logger: testLogger(t)})
	if s.Domain() != "east" || s.LeafURL() == "" {
		t.Fatalf("domain %q leaf url %q", s.Domain(), s.LeafURL())
	}
	url, leaf := s.ClientURL(), s.LeafURL()
	nc := connect(t, s)
	if got := nc.MaxPayload(); got != 4<<20 {
		t.Fatalf("max payload %d", got)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Generous: a restart of a JetStream server on a loaded machine can take
	// many seconds, and the client reconnects after it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := js.Publish(ctx, "s.x", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.ClientURL() != url || s.LeafURL() != leaf {
		t.Fatalf("ports moved: %s %s -> %s %s", url, leaf, s.ClientURL(), s.LeafURL())
	}
	// The old connection reconnects to the same port and sees the stream recovered.
	eventually.NoError(t, 2*time.Minute, "stream after restart", func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, "S")
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.LastSeq != 10 {
			return fmt.Errorf("last seq %d", info.State.LastSeq)
		}
		return nil
	})
}

// TestMirrorAcrossLeafnode is the replication path zkdr relies on: a stream in the
// east domain mirrored into the west domain over the leafnode link, with the
// origin's sequence numbers.
func TestMirrorAcrossLeafnode(t *testing.T) {
	east, west := StartPairT(t, "east", "west")
	if !east.LeafConnected() || !west.LeafConnected() {
		t.Fatal("leafnode not connected")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ejs, err := jetstream.New(connect(t, east)) // local: the east domain
	if err != nil {
		t.Fatal(err)
	}
	wnc := connect(t, west)
	wjs, err := jetstream.New(wnc) // local: the west domain
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "ZKDR_east", Subjects: []string{"zkdr.east.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := wjs.CreateStream(ctx, mirrorConfig("ZKDR_east", "east")); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	publishN(ctx, t, ejs, "zkdr.east.ev", 0, n)
	waitMirror(ctx, t, wjs, "ZKDR_east", n)
	checkSequences(ctx, t, wjs, "ZKDR_east", n)

	// A client on the west side can also read the origin through its domain.
	viaDomain, err := jetstream.NewWithDomain(wnc, "east")
	if err != nil {
		t.Fatal(err)
	}
	st, err := viaDomain.Stream(ctx, "ZKDR_east")
	if err != nil {
		t.Fatalf("east stream via domain from west: %v", err)
	}
	if st.CachedInfo().State.LastSeq != n {
		t.Fatalf("east last seq via domain %d", st.CachedInfo().State.LastSeq)
	}

	// The mirror side restarts: the link comes back and the mirror resumes at once
	// (a stream recreates its mirror consumer when it starts).
	if err := west.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := WaitLinked(ctx, east, west); err != nil {
		t.Fatal(err)
	}
	publishN(ctx, t, ejs, "zkdr.east.ev", n, 100)
	waitMirror(ctx, t, wjs, "ZKDR_east", n+100)
	checkSequences(ctx, t, wjs, "ZKDR_east", n+100)
}

// mirrorConfig is the west-side mirror of stream name in domain.
func mirrorConfig(name, domain string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:    name,
		Storage: jetstream.FileStorage,
		Mirror: &jetstream.StreamSource{
			Name:     name,
			External: &jetstream.ExternalStream{APIPrefix: "$JS." + domain + ".API"},
		},
	}
}

func publishN(ctx context.Context, t *testing.T, js jetstream.JetStream, subj string, from, n int) {
	t.Helper()
	var futures []jetstream.PubAckFuture
	for i := from; i < from+n; i++ {
		f, err := js.PublishAsync(subj, []byte(fmt.Sprintf("msg-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Sequence != uint64(from+i+1) {
				t.Fatalf("publish %d got seq %d", from+i, ack.Sequence)
			}
		case err := <-f.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

func waitMirror(ctx context.Context, t *testing.T, js jetstream.JetStream, name string, last uint64) {
	t.Helper()
	eventually.NoError(t, 60*time.Second, "mirror caught up", func() error {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.LastSeq != last || info.State.Msgs != last {
			return fmt.Errorf("mirror at last seq %d, %d msgs, want %d", info.State.LastSeq, info.State.Msgs, last)
		}
		return nil
	})
}

// checkSequences reads the mirror and checks message i sits at sequence i+1.
func checkSequences(ctx context.Context, t *testing.T, js jetstream.JetStream, name string, n int) {
	t.Helper()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= uint64(n); seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get seq %d: %v", seq, err)
		}
		if want := fmt.Sprintf("msg-%d", seq-1); string(m.Data) != want {
			t.Fatalf("seq %d holds %q, want %q", seq, m.Data, want)
		}
	}
}

// TestEncryptionAtRest: with EncryptionKey, a message's payload is nowhere in
// the store's files; without it, it is there in clear (the control that shows
// the search would find it).
func TestEncryptionAtRest(t *testing.T) {
	const marker = "zkdr-plaintext-marker-5b1e"
	for _, tc := range []struct {
		key   string
		clear bool
	}{{"", true}, {"at-rest-test-key", false}} {
		s := StartT(t, Config{Site: "east", SyncAlways: true, EncryptionKey: tc.key})
		js, err := jetstream.New(connect(t, s))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "s.x", []byte(marker)); err != nil {
			t.Fatal(err)
		}
		cancel()
		found, files := FindInStore(t, s.StoreDir(), []byte(marker))
		if files == 0 {
			t.Fatalf("key %q: no files in the store", tc.key)
		}
		if found != tc.clear {
			t.Fatalf("key %q: payload in clear in the store: %v, want %v", tc.key, found, tc.clear)
		}
	}
}
