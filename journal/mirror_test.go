package journal

import (
	"context"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/faultproxy"
	"github.com/zkdr/zkdr/internal/natsserver"
)

// The mirror in the peer domain receives every event with the origin's
// sequence numbers, and catches up after the leafnode link is cut and healed.
func TestMirrorCatchesUpAfterLinkCut(t *testing.T) {
	if testing.Short() {
		t.Skip("two servers and a cut link")
	}
	east := natsserver.StartT(t, natsserver.Config{Site: "east"})
	proxy, err := faultproxy.New(east.LeafAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	west := natsserver.StartT(t, natsserver.Config{Site: "west", LeafPort: natsserver.NoLeafListener,
		LeafRemotes: []string{"nats-leaf://" + proxy.Addr()}, LeafReconnect: 100 * time.Millisecond})
	linked := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := natsserver.WaitLinked(ctx, east, west); err != nil {
			t.Fatal(err)
		}
	}
	linked()

	_, jsEast := connect(t, east.ClientURL(), "")
	_, jsWest := connect(t, west.ClientURL(), "")
	ctx := testCtx(t, 120*time.Second)
	cfg := DefaultStreamConfig("east")
	ensureStream(t, jsEast, cfg)
	for i := 0; i < 2; i++ { // idempotent
		if _, err := EnsureMirror(ctx, jsWest, cfg, "east"); err != nil {
			t.Fatalf("ensure mirror %d: %v", i, err)
		}
	}
	a := newAppender(t, jsEast, "east", "w1", 1, func(c *AppenderConfig) { c.MaxBatchBytes = 2 << 10 })
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	appendRange := func(from, to int) {
		for i := from; i <= to; i++ {
			if err := a.Append(ctx, numbered(i, 40)); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mirrored := func(seq uint64) func() bool {
		return func() bool {
			info, err := Info(ctx, jsWest, StreamName("east"))
			return err == nil && info.LastSeq >= seq
		}
	}

	appendRange(1, 2000)
	eventually.True(t, 60*time.Second, "mirror to copy the first events", mirrored(a.LastSeq()))

	proxy.Cut()
	appendRange(2001, 5000)
	info, err := Info(ctx, jsWest, StreamName("east"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mirror == nil || info.Mirror.Origin != "ZKDR_east" || info.Mirror.APIPrefix != "$JS.east.API" {
		t.Fatalf("mirror info %+v", info.Mirror)
	}
	t.Logf("while cut: mirror at %d, origin at %d, lag %d", info.LastSeq, a.LastSeq(), info.Mirror.Lag)
	if info.LastSeq >= a.LastSeq() {
		t.Fatalf("mirror at %d while the link is cut, origin at %d", info.LastSeq, a.LastSeq())
	}

	proxy.Heal()
	linked()
	eventually.True(t, 90*time.Second, "mirror to catch up after the link heals", mirrored(a.LastSeq()))
	ms := readN(t, jsWest, StreamName("east"), 1, 5000)
	checkExactlyOnce(t, zxids(ms), 5000)
	if ms[len(ms)-1].Seq != a.LastSeq() {
		t.Fatalf("mirror ends at %d, origin at %d: sequences differ", ms[len(ms)-1].Seq, a.LastSeq())
	}
	oi, err := Info(ctx, jsEast, StreamName("east"))
	if err != nil {
		t.Fatal(err)
	}
	if oi.Mirror != nil || oi.NewestEpoch != 1 || oi.Writer != "w1" || oi.Site != "east" || oi.LastSeq != a.LastSeq() {
		t.Fatalf("origin info %+v", oi)
	}
}

// A mirror keeps each message's origin timestamp: what the reader of the
// standby's mirror reports as Published is when the active site's server
// stored the message, not when the mirror copied it. With the link between the
// sites slowed by 300 ms, the two would differ by at least that much; they are
// equal, and the message reaches the mirror's reader at least 300 ms after it.
// This is what the appended → delivered stage rests on.
func TestMirrorKeepsOriginTimestamp(t *testing.T) {
	if testing.Short() {
		t.Skip("two servers and a slowed link")
	}
	east := natsserver.StartT(t, natsserver.Config{Site: "east"})
	proxy, err := faultproxy.New(east.LeafAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	west := natsserver.StartT(t, natsserver.Config{Site: "west", LeafPort: natsserver.NoLeafListener,
		LeafRemotes: []string{"nats-leaf://" + proxy.Addr()}, LeafReconnect: 100 * time.Millisecond})
	ctx := testCtx(t, 120*time.Second)
	if err := natsserver.WaitLinked(ctx, east, west); err != nil {
		t.Fatal(err)
	}
	_, jsEast := connect(t, east.ClientURL(), "")
	_, jsWest := connect(t, west.ClientURL(), "")
	cfg := DefaultStreamConfig("east")
	ensureStream(t, jsEast, cfg)
	if _, err := EnsureMirror(ctx, jsWest, cfg, "east"); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, jsEast, "east", "w1", 1)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	// The first message while the link is fast: the mirror's consumer is
	// set up and delivering before the latency is added.
	if err := a.Append(ctx, numbered(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(jsWest, ReaderConfig{Stream: StreamName("east"), StartSeq: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ms, err := r.Fetch(ctx, 1); err != nil || len(ms) != 1 {
		t.Fatalf("first message on the mirror: %v %v", ms, err)
	}

	const latency = 300 * time.Millisecond
	proxy.SetLatency(latency)
	for i := 2; i <= 4; i++ {
		if err := a.Append(ctx, numbered(i, 10)); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		seq := a.LastSeq()
		origin, err := jsEast.Stream(ctx, StreamName("east"))
		if err != nil {
			t.Fatal(err)
		}
		om, err := origin.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := r.Fetch(ctx, 1)
		if err != nil || len(ms) != 1 || ms[0].Seq != seq {
			t.Fatalf("message %d on the mirror: %+v %v", seq, ms, err)
		}
		m := ms[0]
		if !m.Published.Equal(om.Time) {
			t.Fatalf("message %d: the mirror says stored at %s, the origin at %s", seq, m.Published.Format(time.RFC3339Nano), om.Time.Format(time.RFC3339Nano))
		}
		if d := m.Delivered.Sub(om.Time); d < latency {
			t.Fatalf("message %d reached the mirror's reader %s after the origin stored it, with %s on the link", seq, d, latency)
		}
		t.Logf("message %d: stored %s, delivered from the mirror %s later", seq, om.Time.Format(time.RFC3339Nano), m.Delivered.Sub(om.Time))
	}
}
