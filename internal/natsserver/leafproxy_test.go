package natsserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/faultproxy"
)

// TestMirrorThroughCutLink runs the leafnode through a fault proxy: cutting the
// link stops mirroring, healing it lets the mirror catch up with the same
// sequences, and so does a restart of the origin server.
func TestMirrorThroughCutLink(t *testing.T) {
	east := StartT(t, Config{Site: "east", Logger: testLogger(t)})
	proxy, err := faultproxy.New(east.LeafAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	west := StartT(t, Config{
		Site:          "west",
		LeafPort:      NoLeafListener,
		LeafRemotes:   []string{"nats-leaf://" + proxy.Addr()},
		LeafReconnect: 100 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := WaitLinked(ctx, east, west); err != nil {
		t.Fatal(err)
	}
	if proxy.Conns() != 1 {
		t.Fatalf("proxy carries %d connections, want the leafnode", proxy.Conns())
	}

	ejs, err := jetstream.New(connect(t, east))
	if err != nil {
		t.Fatal(err)
	}
	wjs, err := jetstream.New(connect(t, west))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "ZKDR_east", Subjects: []string{"zkdr.east.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := wjs.CreateStream(ctx, mirrorConfig("ZKDR_east", "east")); err != nil {
		t.Fatal(err)
	}
	publishN(ctx, t, ejs, "zkdr.east.ev", 0, 100)
	waitMirror(ctx, t, wjs, "ZKDR_east", 100)

	proxy.Cut()
	eventually.NoError(t, 30*time.Second, "leafnode down", func() error {
		if east.LeafConnected() || west.LeafConnected() {
			return fmt.Errorf("still connected")
		}
		return nil
	})
	publishN(ctx, t, ejs, "zkdr.east.ev", 100, 400)
	// Nothing can cross a cut link: the mirror stays where it was.
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		if last := mirrorLastSeq(ctx, t, wjs); last != 100 {
			t.Fatalf("mirror moved to %d across a cut link", last)
		}
	}

	proxy.Heal()
	waitMirror(ctx, t, wjs, "ZKDR_east", 500)

	// The origin restarts on the same leaf port; the link and the mirror come back.
	// The mirror's consumer on east is gone with the restart, and the west side
	// notices a stalled mirror only at its 10s health check: this part takes 10-20s.
	if err := east.Restart(); err != nil {
		t.Fatal(err)
	}
	ejs2, err := jetstream.New(connect(t, east))
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitLinked(ctx, east, west); err != nil {
		t.Fatal(err)
	}
	publishN(ctx, t, ejs2, "zkdr.east.ev", 500, 500)
	waitMirror(ctx, t, wjs, "ZKDR_east", 1000)
	checkSequences(ctx, t, wjs, "ZKDR_east", 1000)
}

func mirrorLastSeq(ctx context.Context, t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	st, err := js.Stream(ctx, "ZKDR_east")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}
