package journal

import (
	"testing"
	"time"
)

// The appender times read → appended once per acknowledged message that has
// a read time, from the earliest read among its events; events appended
// without one are not timed. The reader stamps each message with when it was
// delivered, never before JetStream stored it (one host, one clock here).
func TestAppenderTimesReadToAppended(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ensureStream(t, js, DefaultStreamConfig("east"))
	a := newAppender(t, js, "east", "w1", 1, func(c *AppenderConfig) { c.MaxBatchBytes = 1 << 10 })
	ctx := testCtx(t, 60*time.Second)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	// Untimed events: no observation.
	for i := 1; i <= 50; i++ {
		if err := a.Append(ctx, numbered(i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	untimed := a.LastSeq()
	if n := a.ReadAppended().Count(); n != 0 {
		t.Fatalf("%d observations for events without a read time", n)
	}

	// Events read 2 s ago: every message holding them is timed at 2 s or more.
	readAt := time.Now().Add(-2 * time.Second)
	const timed = 200
	for i := 51; i < 51+timed; i++ {
		if err := a.AppendRead(ctx, numbered(i, 100), readAt); err != nil {
			t.Fatal(err)
		}
	}
	// A snapshot marker travels alone and is timed too.
	if err := a.AppendRead(ctx, Event{Kind: KindSnapshotBegin, Snapshot: 7, Time: 1}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := a.LastSeq() - untimed
	s := a.ReadAppended()
	if s.Count() != msgs {
		t.Fatalf("%d observations for %d acknowledged messages", s.Count(), msgs)
	}
	if msgs < 10 || msgs >= timed {
		t.Fatalf("%d events of about 150 bytes took %d messages of at most 1 KiB", timed, msgs)
	}
	// Only the marker, read just now, can be under a second.
	if fast := s.Cumulative()[1]; fast > 1 {
		t.Fatalf("%d messages read 2 s before their append timed under 1 s (counts %v)", fast, s.Counts)
	}
	if s.Sum < time.Duration(msgs-1)*2*time.Second {
		t.Fatalf("sum %v for %d messages read 2 s before", s.Sum, msgs-1)
	}

	ms := readN(t, js, StreamName("east"), 1, 50+timed+1)
	for _, m := range ms {
		if m.Delivered.IsZero() || m.Delivered.Before(m.Published.Add(-time.Millisecond)) {
			t.Fatalf("message %d stored %s, delivered %s", m.Seq, m.Published, m.Delivered)
		}
	}
}
