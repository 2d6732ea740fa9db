package journal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/natsserver"
)

// appendSnapshot appends a snapshot of nodes events between its markers.
func appendSnapshot(t *testing.T, ctx context.Context, a *Appender, id uint64, first, nodes int, end bool) {
	t.Helper()
	if err := a.Append(ctx, Event{Kind: KindSnapshotBegin, Snapshot: id, Time: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	for i := first; i < first+nodes; i++ {
		ev := numbered(i, 10)
		ev.Kind, ev.Snapshot = KindSnapshotNode, id
		if err := a.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if end {
		if err := a.Append(ctx, Event{Kind: KindSnapshotEnd, Snapshot: id, Time: time.Now().UnixNano()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// Snapshot markers travel alone in their messages on the snapshot subject, in
// order with the events (readers see one contiguous journal), and
// ListSnapshots finds them on the stream and on its mirror without reading
// the journal: ids, sequences, the end's zxid and counts, an unfinished one.
func TestSnapshotMarkersAndListing(t *testing.T) {
	if testing.Short() {
		t.Skip("two linked servers")
	}
	east := natsserver.StartT(t, natsserver.Config{Site: "east"})
	west := natsserver.StartT(t, natsserver.Config{Site: "west", LeafPort: natsserver.NoLeafListener,
		LeafRemotes: []string{"nats-leaf://" + east.LeafAddr()}, LeafReconnect: 100 * time.Millisecond})
	lctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := natsserver.WaitLinked(lctx, east, west); err != nil {
		t.Fatal(err)
	}
	_, js := connect(t, east.ClientURL(), "")
	_, jsWest := connect(t, west.ClientURL(), "")
	ctx := testCtx(t, 60*time.Second)
	cfg := DefaultStreamConfig("east")
	ensureStream(t, js, cfg)
	if _, err := EnsureMirror(ctx, jsWest, cfg, "east"); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, js, "east", "w1", 1)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 50; i++ {
		if err := a.Append(ctx, numbered(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	appendSnapshot(t, ctx, a, 100, 51, 20, true) // zxids 51..70
	appendSnapshot(t, ctx, a, 200, 71, 10, true) // zxids 71..80
	appendSnapshot(t, ctx, a, 300, 81, 5, false) // under way
	last := a.LastSeq()

	ms := readN(t, js, StreamName("east"), 1, 50+22+12+6)
	markers := 0
	for _, m := range ms {
		for i, ev := range m.Events {
			if ev.Kind == KindSnapshotBegin || ev.Kind == KindSnapshotEnd {
				markers++
				if len(m.Events) != 1 || i != 0 {
					t.Fatalf("sequence %d: a %s shares its message with %d other events", m.Seq, ev.Kind, len(m.Events)-1)
				}
			}
		}
	}
	if markers != 5 {
		t.Fatalf("read %d markers, want 5", markers)
	}
	raw, err := js.Stream(ctx, StreamName("east"))
	if err != nil {
		t.Fatal(err)
	}
	si, err := raw.Info(ctx, jetstream.WithSubjectFilter(SnapshotSubjectName("east")))
	if err != nil || si.State.Subjects[SnapshotSubjectName("east")] != 5 {
		t.Fatalf("snapshot subject holds %v (%v), want 5 messages", si.State.Subjects, err)
	}

	check := func(js jetstream.JetStream, where string) {
		snaps, err := ListSnapshots(ctx, js, StreamName("east"))
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if len(snaps) != 3 {
			t.Fatalf("%s: %d snapshots listed, want 3: %+v", where, len(snaps), snaps)
		}
		s1, s2, s3 := snaps[0], snaps[1], snaps[2]
		if s1.ID != 100 || !s1.Complete() || s1.EndSeq <= s1.BeginSeq || s1.EndZxid != 70 || s1.Nodes != 20 || s1.Events != 20 || s1.Writer != "w1" || s1.Site != "east" {
			t.Fatalf("%s: first snapshot %+v", where, s1)
		}
		if s2.ID != 200 || !s2.Complete() || s2.BeginSeq != s1.EndSeq+1 || s2.EndZxid != 80 || s2.Nodes != 10 {
			t.Fatalf("%s: second snapshot %+v (first ended at %d)", where, s2, s1.EndSeq)
		}
		if s3.ID != 300 || s3.Complete() || s3.EndSeq != 0 || s3.BeginSeq != s2.EndSeq+1 {
			t.Fatalf("%s: unfinished snapshot %+v", where, s3)
		}
		if s1.EndTime.IsZero() || s1.EndTime.Before(s1.BeginTime) {
			t.Fatalf("%s: times %v..%v", where, s1.BeginTime, s1.EndTime)
		}
	}
	check(js, "stream")
	eventually.True(t, 30*time.Second, "the mirror to catch up", func() bool {
		in, err := Info(ctx, jsWest, StreamName("east"))
		return err == nil && in.LastSeq == last
	})
	check(jsWest, "mirror")

	in, err := Info(ctx, js, StreamName("east"))
	if err != nil {
		t.Fatal(err)
	}
	if err := DescribeSnapshots(ctx, js, in, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := in.Replayable; r == nil || r.Snapshot != 100 || r.FromSeq != in.Snapshots[0].EndSeq || r.ToSeq != last {
		t.Fatalf("replayable range %+v", in.Replayable)
	}
	if len(in.Warnings) != 0 {
		t.Fatalf("warnings on a healthy journal: %v", in.Warnings)
	}
	// Two hours later, with snapshots due hourly, the newest is overdue.
	if err := DescribeSnapshots(ctx, js, in, time.Hour, time.Now().Add(2*time.Hour+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(in.Warnings) != 1 || !strings.Contains(in.Warnings[0], "twice the snapshot interval") {
		t.Fatalf("warnings for an overdue snapshot: %v", in.Warnings)
	}
}

// A stream provisioned before the snapshot subject existed keeps working: the
// appender puts its markers on the journal subject, and EnsureStream adds the
// subject without touching the messages; another difference is still refused.
func TestEnsureStreamAddsSnapshotSubject(t *testing.T) {
	srv := startServer(t, "east")
	_, js := connect(t, srv.ClientURL(), "")
	ctx := testCtx(t, 60*time.Second)
	cfg := DefaultStreamConfig("east")
	old := cfg.baseConfig()
	old.Subjects = []string{SubjectName("east")}
	old.Duplicates = cfg.DuplicateWindow
	if _, err := js.CreateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, js, "east", "w1", 1)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	appendSnapshot(t, ctx, a, 7, 1, 3, true)
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if snaps, err := ListSnapshots(ctx, js, StreamName("east")); err != nil || len(snaps) != 0 {
		t.Fatalf("listing an old stream: %v %v", snaps, err)
	}
	s, err := EnsureStream(ctx, js, cfg)
	if err != nil {
		t.Fatalf("ensure an old stream: %v", err)
	}
	c := s.CachedInfo().Config
	if len(c.Subjects) != 2 || c.Subjects[0] != SubjectName("east") || c.Subjects[1] != SnapshotSubjectName("east") {
		t.Fatalf("subjects after the upgrade: %v", c.Subjects)
	}
	if in, err := Info(ctx, js, StreamName("east")); err != nil || in.Messages != 3 {
		t.Fatalf("messages after the upgrade: %+v %v", in, err)
	}
	b := newAppender(t, js, "east", "w2", 1)
	if err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	appendSnapshot(t, ctx, b, 8, 4, 3, true)
	snaps, err := ListSnapshots(ctx, js, StreamName("east"))
	if err != nil || len(snaps) != 1 || snaps[0].ID != 8 || !snaps[0].Complete() {
		t.Fatalf("snapshots after the upgrade: %+v %v", snaps, err)
	}
	readN(t, js, StreamName("east"), 1, 5+5)

	other := cfg
	other.MaxMsgs = 10
	if _, err := EnsureStream(ctx, js, other); !errors.Is(err, ErrStreamConfig) {
		t.Fatalf("a different limit: %v", err)
	}
}

func TestParsePoint(t *testing.T) {
	at := time.Date(2024, 5, 1, 14, 3, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want Point
	}{
		{"", Point{Kind: PointLatest}},
		{"2024-05-01T14:03:00Z", Point{Kind: PointTime, Time: at}},
		{"2024-05-01T16:03:00+02:00", Point{Kind: PointTime, Time: at}},
		{"zxid:0x10000002a", Point{Kind: PointZxid, Zxid: 0x10000002a}},
		{"seq:42", Point{Kind: PointSeq, Seq: 42}},
	} {
		got, err := ParsePoint(tc.in)
		if err != nil || got.Kind != tc.want.Kind || !got.Time.Equal(tc.want.Time) || got.Zxid != tc.want.Zxid || got.Seq != tc.want.Seq {
			t.Errorf("ParsePoint(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", "zxid:", "zxid:-1", "seq:0", "seq:x", "2024-05-01"} {
		if _, err := ParsePoint(bad); err == nil {
			t.Errorf("ParsePoint(%q) accepted", bad)
		}
	}
}

func TestChooseSnapshotAndCut(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 14, 0, 0, 0, time.UTC)
	snaps := []SnapshotInfo{
		{ID: 1, BeginSeq: 0, EndSeq: 5, EndTime: t0, EndZxid: 0x10},                        // begin dropped
		{ID: 2, BeginSeq: 10, EndSeq: 20, EndTime: t0.Add(time.Minute), EndZxid: 0x20},     // oldest usable
		{ID: 3, BeginSeq: 30, EndSeq: 40, EndTime: t0.Add(2 * time.Minute), EndZxid: 0x30}, // newest
		{ID: 4, BeginSeq: 50, EndSeq: 0},                                                   // under way
	}
	for _, tc := range []struct {
		point string
		want  uint64
	}{
		{"", 3},
		{"seq:39", 2},
		{"seq:40", 3},
		{"zxid:0x2f", 2},
		{"zxid:0x30", 3},
		{t0.Add(90 * time.Second).Format(time.RFC3339), 2},
		{t0.Add(time.Hour).Format(time.RFC3339), 3},
	} {
		p, err := ParsePoint(tc.point)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ChooseSnapshot(snaps, 10, p)
		if err != nil || got.ID != tc.want {
			t.Errorf("point %q: snapshot %d (%v), want %d", tc.point, got.ID, err, tc.want)
		}
	}
	p, _ := ParsePoint("seq:19")
	if _, err := ChooseSnapshot(snaps, 10, p); !errors.Is(err, ErrNoSnapshot) || !strings.Contains(err.Error(), "seq:20") {
		t.Errorf("a point before every usable snapshot: %v", err)
	}
	if _, err := ChooseSnapshot(snaps[3:], 10, Point{}); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("no complete snapshot: %v", err)
	}

	m := Message{Seq: 41, FirstSeq: 41, Published: t0.Add(3 * time.Minute), Events: []Event{
		{Kind: KindUpdate, Zxid: 0x31, Stat: Stat{Mzxid: 0x31}},
		{Kind: KindCreate, Zxid: 0x32, Stat: Stat{Mzxid: 0x34}}, // created at 0x32, data of 0x34
		{Kind: KindHeartbeat, Zxid: 0x35},
	}}
	for _, tc := range []struct {
		point string
		keep  int
		past  bool
	}{
		{"seq:41", 3, false},
		{"seq:40", 0, true},
		{"zxid:0x30", 0, true},
		{"zxid:0x33", 1, true},
		{"zxid:0x34", 2, true},
		{"zxid:0x35", 3, false},
		{t0.Add(3 * time.Minute).Format(time.RFC3339), 3, false},
		{t0.Add(170 * time.Second).Format(time.RFC3339), 0, true},
	} {
		p, err := ParsePoint(tc.point)
		if err != nil {
			t.Fatal(err)
		}
		if keep, past := p.Cut(m); keep != tc.keep || past != tc.past {
			t.Errorf("cut at %q: keep %d past %v, want %d %v", tc.point, keep, past, tc.keep, tc.past)
		}
	}
}
