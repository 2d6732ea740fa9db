package journal

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// appendEach appends events from..to, one message each.
func appendEach(t *testing.T, a *Appender, from, to int) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	for i := from; i <= to; i++ {
		if err := a.Append(ctx, numbered(i, 10)); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// Guarantee 7: a start sequence the stream no longer holds is an error, and so
// is a jump in the delivered sequences; never a silent skip.
func TestReaderRetentionGap(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	cfg := DefaultStreamConfig("east")
	cfg.MaxMsgs = 20
	ensureStream(t, js, cfg)
	ctx := testCtx(t, 60*time.Second)
	a := newAppender(t, js, "east", "w1", 1)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	appendEach(t, a, 1, 50)

	r, err := NewReader(js, ReaderConfig{Stream: StreamName("east"), StartSeq: 5})
	if err != nil {
		t.Fatal(err)
	}
	first, last, err := r.Bounds(ctx)
	if err != nil || first != 31 || last != 50 {
		t.Fatalf("bounds %d..%d (%v), want 31..50", first, last, err)
	}
	if _, err := r.Fetch(ctx, 10); !errors.Is(err, ErrRetentionGap) {
		t.Fatalf("start before the first sequence: %v", err)
	}
	if _, err := r.Fetch(ctx, 10); !errors.Is(err, ErrRetentionGap) {
		t.Fatalf("gap error is not sticky: %v", err)
	}
	r.Close()

	// From the first held sequence all is well; then retention overtakes the
	// reader and the jump is reported.
	r, err = NewReader(js, ReaderConfig{Stream: StreamName("east"), StartSeq: 31, Prefetch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ms, err := r.Fetch(ctx, 1)
	if err != nil || len(ms) != 1 || ms[0].Seq != 31 {
		t.Fatalf("fetch from 31: %v %v", ms, err)
	}
	appendEach(t, a, 51, 100)
	for {
		ms, err := r.Fetch(ctx, 1)
		if errors.Is(err, ErrRetentionGap) {
			t.Logf("mid-stream gap: %v", err)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ms[0].Seq > 40 {
			t.Fatalf("read up to %d without noticing sequences dropped by retention", ms[0].Seq)
		}
	}
}

// An undecodable message stops the reader with its stream sequence.
func TestReaderDecodeErrorCarriesSequence(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ensureStream(t, js, DefaultStreamConfig("east"))
	ctx := testCtx(t, 30*time.Second)
	good := EncodeEvents(numbered(1, 5))
	bad := append([]byte{}, good...)
	bad[len(bad)/2] ^= 1
	future := append([]byte{SchemaVersion + 1}, good[1:]...)
	for _, data := range [][]byte{good, bad, future} {
		if _, err := js.Publish(ctx, SubjectName("east"), data); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		start, seq uint64
		want       error
	}{{1, 2, ErrCorrupt}, {3, 3, ErrUnknownVersion}} {
		r, err := NewReader(js, ReaderConfig{Stream: StreamName("east"), StartSeq: c.start})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := r.Fetch(ctx, 10)
		if c.start == 1 {
			if err != nil || len(ms) != 1 {
				t.Fatalf("messages before the bad one: %v %v", ms, err)
			}
			ms, err = r.Fetch(ctx, 10)
		}
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, c.want) || de.Seq != c.seq || de.Stream != "ZKDR_east" {
			t.Fatalf("start %d: got %v (%v), want %v", c.start, err, ms, c.want)
		}
		if !strings.Contains(err.Error(), "ZKDR_east sequence") {
			t.Errorf("error does not name the place: %v", err)
		}
		r.Close()
	}
}

func TestEnsureStreamIdempotent(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ctx := testCtx(t, 30*time.Second)
	cfg := DefaultStreamConfig("east")
	cfg.MaxAge = time.Hour
	for i := 0; i < 2; i++ {
		if _, err := EnsureStream(ctx, js, cfg); err != nil {
			t.Fatalf("ensure %d: %v", i, err)
		}
	}
	s, err := js.Stream(ctx, "ZKDR_east")
	if err != nil {
		t.Fatal(err)
	}
	c := s.CachedInfo().Config
	if c.Storage != jetstream.FileStorage || !c.DenyDelete || !c.DenyPurge || c.Subjects[0] != "zkdr.east.journal" {
		t.Fatalf("stream config %+v", c)
	}
	other := cfg
	other.MaxAge = 2 * time.Hour
	other.MaxMsgs = 10
	_, err = EnsureStream(ctx, js, other)
	if !errors.Is(err, ErrStreamConfig) || !strings.Contains(err.Error(), "max-age") || !strings.Contains(err.Error(), "max-msgs") {
		t.Fatalf("incompatible stream: %v", err)
	}
	if after, _ := js.Stream(ctx, "ZKDR_east"); after.CachedInfo().Config.MaxAge != time.Hour {
		t.Fatal("existing stream was changed")
	}
	if err := (StreamConfig{Site: "a.b", Replicas: 1, DuplicateWindow: time.Minute}).Validate(); err == nil {
		t.Fatal("site with a dot accepted")
	}
}

func TestInspectAndFormat(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ensureStream(t, js, DefaultStreamConfig("east"))
	ctx := testCtx(t, 30*time.Second)
	a := newAppender(t, js, "east", "w1", 7)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	appendEach(t, a, 1, 5)
	ms := readN(t, js, StreamName("east"), 1, 5)
	time.Sleep(5 * time.Millisecond) // a distinct timestamp for the messages after
	appendEach(t, a, 6, 8)

	r, err := Inspect(js, StreamName("east"), 0, ms[4].Published.Add(time.Millisecond), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Fetch(ctx, 10)
	if err != nil || len(got) == 0 || got[0].Seq != 6 {
		t.Fatalf("inspect by time: %v %v", got, err)
	}
	line := Format(got[0].Seq, got[0].Events[0])
	for _, want := range []string{"seq=6", "kind=update", `path="/n/000006"`, "zxid=0x6", "epoch=7", "data=10B"} {
		if !strings.Contains(line, want) {
			t.Errorf("Format line %q lacks %q", line, want)
		}
	}
	t.Log(line)
	info, err := Info(ctx, js, StreamName("east"))
	if err != nil || info.FirstSeq != 1 || info.LastSeq != 8 || info.Messages != 8 || info.NewestEpoch != 7 || info.Writer != "w1" {
		t.Fatalf("info %+v %v", info, err)
	}
}
