package journal

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/natsserver"
)

func TestAppendInOrder(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ensureStream(t, js, DefaultStreamConfig("east"))
	a := newAppender(t, js, "east", "w1", 1, func(c *AppenderConfig) { c.MaxBatchBytes = 4 << 10 })
	ctx := testCtx(t, 60*time.Second)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := 1; i <= n; i++ {
		if err := a.Append(ctx, numbered(i, i%300)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ms := readN(t, js, StreamName("east"), 1, n)
	checkExactlyOnce(t, zxids(ms), n)
	if last := ms[len(ms)-1].Seq; a.LastSeq() != last {
		t.Fatalf("LastSeq %d, stream ends at %d", a.LastSeq(), last)
	}
	if len(ms) >= n {
		t.Errorf("%d events took %d messages: no batching", n, len(ms))
	}
	for _, m := range ms {
		if m.Writer != "w1" || m.Epoch != 1 || m.Events[0].Site != "east" || m.Events[0].Epoch != 1 {
			t.Fatalf("message %d: writer %q epoch %d event site %q epoch %d", m.Seq, m.Writer, m.Epoch, m.Events[0].Site, m.Events[0].Epoch)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ctx, numbered(n+1, 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

// Guarantee 4: a server restart in the middle of thousands of pipelined
// appends leaves every event in the stream exactly once, in order.
func TestAppendSurvivesServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a server")
	}
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ensureStream(t, js, DefaultStreamConfig("east"))
	a := newAppender(t, js, "east", "w1", 1, func(c *AppenderConfig) {
		c.MaxBatchBytes = 1 << 10 // many small messages, many in flight
		c.AckTimeout = 2 * time.Second
		c.RetryMaxInterval = 200 * time.Millisecond
	})
	ctx := testCtx(t, 90*time.Second)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 30000
	appended := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if err := a.Append(ctx, numbered(i, 50)); err != nil {
				appended <- err
				return
			}
		}
		appended <- a.Flush(ctx)
	}()
	for restart := 1; restart <= 3; restart++ {
		at := uint64(restart) * 400
		eventually.True(t, 60*time.Second, "appends before the restart", func() bool { return a.LastSeq() >= at })
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		t.Logf("restart %d after sequence %d", restart, at)
	}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, zxids(readN(t, js, StreamName("east"), 1, n)), n)
}

// Guarantee 5: two appenders on one stream never interleave; one is fenced.
func TestSecondAppenderIsFenced(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ensureStream(t, js, DefaultStreamConfig("east"))
	ctx := testCtx(t, 60*time.Second)
	small := func(c *AppenderConfig) { c.MaxBatchBytes = 512 }
	first := newAppender(t, js, "east", "first", 1, small)
	if err := first.Open(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if err := first.Append(ctx, numbered(i, 20)); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	second := newAppender(t, js, "east", "second", 1, small)
	if err := second.Open(ctx); err != nil {
		t.Fatal(err)
	}
	// Both write at once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for k, a := range []*Appender{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 2000; i++ {
				if err := a.Append(ctx, numbered(1000*(k+1)+i, 20)); err != nil {
					errs[k] = err
					return
				}
			}
			errs[k] = a.Flush(ctx)
		}()
	}
	wg.Wait()
	fenced := 0
	for k, err := range errs {
		switch {
		case errors.Is(err, ErrFenced):
			fenced++
			t.Logf("appender %d: %v", k, err)
		case err != nil:
			t.Fatalf("appender %d: %v", k, err)
		}
	}
	if fenced != 1 {
		t.Fatalf("%d appenders fenced, want exactly 1", fenced)
	}
	// The stream is one writer's run followed by the other's: no interleaving.
	_, last, err := mustReader(t, js).Bounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var writers []string
	for _, m := range readSeqs(t, js, 1, last) {
		if len(writers) == 0 || writers[len(writers)-1] != m.Writer {
			writers = append(writers, m.Writer)
		}
	}
	if len(writers) > 2 || writers[0] != "first" {
		t.Fatalf("writers in stream order: %v", writers)
	}
	if errors.Is(errs[0], ErrFenced) != (len(writers) == 2) {
		t.Fatalf("first appender error %v, writers %v", errs[0], writers)
	}
	if err := first.Append(ctx, numbered(1, 1)); errors.Is(errs[0], ErrFenced) && !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced appender accepted an event: %v", err)
	}
}

// Guarantee 5: an appender whose epoch is below the stream's newest refuses to write.
func TestStaleEpochRefused(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ensureStream(t, js, DefaultStreamConfig("east"))
	ctx := testCtx(t, 60*time.Second)

	old := newAppender(t, js, "east", "old", 4)
	if err := old.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := old.Append(ctx, numbered(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := old.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	newer := newAppender(t, js, "east", "new", 5)
	if err := newer.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := newer.Append(ctx, numbered(2, 1)); err != nil {
		t.Fatal(err)
	}
	if err := newer.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The running old appender finds the newer epoch on its next append.
	if err := old.Append(ctx, numbered(3, 1)); err != nil {
		t.Fatal(err)
	}
	if err := old.Flush(ctx); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("old appender flush: %v, want ErrStaleEpoch", err)
	}
	// A new appender with the old epoch is refused at Open.
	again := newAppender(t, js, "east", "old-again", 4)
	if err := again.Open(ctx); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("open with epoch 4 after epoch 5: %v, want ErrStaleEpoch", err)
	}
	checkExactlyOnce(t, zxids(readN(t, js, StreamName("east"), 1, 2)), 2)
}

// An event bigger than the server's max payload is chunked and reassembled.
func TestLargeEventRoundTrip(t *testing.T) {
	srv := startServer(t, "east")
	nc, js := connect(t, srv.ClientURL(), "")
	if nc.MaxPayload() != 1<<20 {
		t.Fatalf("server max payload %d, want the 1 MB default", nc.MaxPayload())
	}
	ensureStream(t, js, DefaultStreamConfig("east"))
	ctx := testCtx(t, 60*time.Second)
	a := newAppender(t, js, "east", "w1", 1)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	big := numbered(2, 0)
	big.Data = bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, ZooKeeper's limit
	big.Data[12345] = 'Z'
	for _, ev := range []Event{numbered(1, 10), big, numbered(3, 10)} {
		if err := a.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ms := readN(t, js, StreamName("east"), 1, 3)
	checkExactlyOnce(t, zxids(ms), 3)
	var got *Message
	for i := range ms {
		for _, e := range ms[i].Events {
			if e.Zxid == 2 {
				got = &ms[i]
			}
		}
	}
	if got.Seq == got.FirstSeq || len(got.Events) != 1 || !bytes.Equal(got.Events[0].Data, big.Data) {
		t.Fatalf("large event: sequences %d..%d, %d events, data equal %v", got.FirstSeq, got.Seq, len(got.Events),
			len(got.Events) == 1 && bytes.Equal(got.Events[0].Data, big.Data))
	}
	// A reader that starts inside the chunked event says so, with the sequence.
	r, err := NewReader(js, ReaderConfig{Stream: StreamName("east"), StartSeq: got.Seq})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Fetch(ctx, 10)
	var de *DecodeError
	if !errors.As(err, &de) || de.Seq != got.Seq || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading from inside a chunked event: %v", err)
	}
}

func TestAppenderConfigValidate(t *testing.T) {
	for name, c := range map[string]AppenderConfig{
		"no site":   {WriterID: "w", Epoch: 1},
		"no writer": {Site: "east", Epoch: 1},
		"no epoch":  {Site: "east", WriterID: "w"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := AppenderConfig{Site: "east", WriterID: "w", Epoch: 1}
	if err := c.Validate(); err != nil {
		t.Fatalf("unset fields stand for their defaults: %v", err)
	}
	if c != (AppenderConfig{Site: "east", WriterID: "w", Epoch: 1}) {
		t.Fatalf("Validate changed its receiver: %+v", c)
	}
	if f := c.withDefaults(); f.Stream != "ZKDR_east" || f.Subject != "zkdr.east.journal" || f.MaxPending == 0 {
		t.Fatalf("defaults not filled: %+v", f)
	}
}

func mustReader(t testing.TB, js jetstream.JetStream) *Reader {
	r, err := NewReader(js, ReaderConfig{Stream: StreamName("east")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readSeqs reads every message from..to.
func readSeqs(t testing.TB, js jetstream.JetStream, from, to uint64) []Message {
	t.Helper()
	r, err := NewReader(js, ReaderConfig{Stream: StreamName("east"), StartSeq: from})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := testCtx(t, 30*time.Second)
	var out []Message
	for len(out) == 0 || out[len(out)-1].Seq < to {
		ms, err := r.Fetch(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ms...)
	}
	return out
}

func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{false, true} {
		name := "default-sync"
		if sync {
			name = "sync-always"
		}
		b.Run(name, func(b *testing.B) {
			srv := natsserver.StartT(b, natsserver.Config{Site: "bench", LeafPort: natsserver.NoLeafListener, SyncAlways: sync})
			_, js := connect(b, srv.ClientURL(), "")
			ensureStream(b, js, DefaultStreamConfig("bench"))
			ctx := context.Background()
			a := newAppender(b, js, "bench", "w1", 1, func(c *AppenderConfig) { c.Logger = nil })
			if err := a.Open(ctx); err != nil {
				b.Fatal(err)
			}
			ev := numbered(1, 100)
			b.ReportAllocs()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				ev.Zxid = int64(i)
				if err := a.Append(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			if err := a.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
