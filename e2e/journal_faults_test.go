package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/faultproxy"
	"github.com/zkdr/zkdr/journal"
)

// Guarantee 7: a standby whose mirror no longer holds its next sequence says
// so (checkpoint and daemon status), applies nothing after the gap (not even a
// heartbeat) before a snapshot taken after it, asks the active site for that
// snapshot (retrying while the peer's ensemble is unreachable), and then
// converges, deletes made during the gap included.
func TestRetentionGap(t *testing.T) {
	var peerLink *faultproxy.Proxy // west's connection to east's ensemble
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.Journal.MaxMsgs = 200
		// Bounded retention needs periodic snapshots; this period is too long to
		// produce one here, so the gap must be closed by a snapshot on request.
		c.Source.SnapshotEveryEvents = 1 << 30
		if site == "west" {
			px, err := faultproxy.New(c.Peer.ZooKeeper.Servers[0])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { px.Close() })
			peerLink = px
			c.Peer.ZooKeeper.Servers = []string{px.Addr()}
		}
	}))
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/gap", nil, 0, nil)
	mustCreate(t, east, "/gap/keep", []byte("k"), 0, nil)
	mustCreate(t, east, "/gap/upd", []byte("0"), 0, nil)
	const doomed = 10
	for i := 0; i < doomed; i++ {
		mustCreate(t, east, fmt.Sprintf("/gap/del-%02d", i), []byte("d"), 0, nil)
		mustCreate(t, east, fmt.Sprintf("/gap/del-%02d/kid", i), nil, 0, nil)
	}
	p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)
	waitFor(t, time.Minute, "a watermark on west", func() bool { return readCheckpoint(t, west).WatermarkZxid != 0 })
	p.daemons["west"].stop()
	before := readCheckpoint(t, west)
	gapAt := before.Seq + 1
	t.Logf("west stopped at sequence %d, watermark 0x%x", before.Seq, before.WatermarkZxid)

	// The peer's ensemble is unreachable from west until the gap has been seen
	// to be reported and respected.
	peerLink.Cut()

	// Changes west has not seen: deletes, an update, many creates, until the
	// mirror has dropped the next sequence west needs.
	for i := 0; i < doomed; i++ {
		if err := east.Delete(fmt.Sprintf("/gap/del-%02d/kid", i), -1); err != nil {
			t.Fatal(err)
		}
		if err := east.Delete(fmt.Sprintf("/gap/del-%02d", i), -1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := east.Set("/gap/upd", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	created := 0
	waitFor(t, 3*time.Minute, "the mirror to drop west's next sequence", func() bool {
		for i := 0; i < 25; i++ {
			mustCreate(t, east, fmt.Sprintf("/gap/new-%04d", created), []byte("n"), 0, nil)
			created++
		}
		first, _ := streamBounds(t, p.nats["west"].ClientURL(), journal.StreamName("east"))
		return first > gapAt
	})
	first, last := streamBounds(t, p.nats["west"].ClientURL(), journal.StreamName("east"))
	t.Logf("%d nodes created during the gap; west's mirror holds %d..%d, west needs %d", created, first, last, gapAt)

	dm := p.start("west")
	want := fmt.Sprintf("resyncing after retention gap at seq %d", gapAt)
	waitFor(t, 2*time.Minute, "west to report the gap and skip what the mirror holds", func() bool {
		st := dm.d.Status()
		return st.Applier != nil && st.Applier.State == want && st.Applier.ResyncSkipped >= 100
	})
	st := dm.d.Status()
	t.Logf("west while resyncing: state %q, skipped %d messages, error %q", st.Applier.State, st.Applier.ResyncSkipped, st.Applier.LastError)
	if !strings.Contains(st.Applier.LastError, "retention gap") || !strings.Contains(st.Applier.LastError, fmt.Sprint(gapAt)) {
		t.Errorf("applier error does not name the gap: %q", st.Applier.LastError)
	}
	cp := readCheckpoint(t, west)
	if cp.Resync == nil || cp.Resync.GapAt != gapAt || cp.Resync.FirstAvailable <= gapAt {
		t.Fatalf("checkpoint does not record the gap at %d: %+v", gapAt, cp.Resync)
	}
	// Nothing after the gap was applied: not the creates, not the deletes, not
	// the update, and not the heartbeats (the watermark has not moved).
	if cp.Seq != before.Seq || cp.WatermarkZxid != before.WatermarkZxid {
		t.Fatalf("west moved while resyncing: sequence %d watermark 0x%x, was %d 0x%x", cp.Seq, cp.WatermarkZxid, before.Seq, before.WatermarkZxid)
	}
	kids, _, err := west.Children("/gap")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if strings.HasPrefix(k, "new-") {
			t.Fatalf("west applied /gap/%s, created after the gap, before a snapshot", k)
		}
	}
	if len(kids) != 2+doomed {
		t.Fatalf("west /gap children %v, want the %d it had before the gap", kids, 2+doomed)
	}
	if data, _, err := west.Get("/gap/upd"); err != nil || string(data) != "0" {
		t.Fatalf("west /gap/upd = %q (%v), want the value before the gap", data, err)
	}

	if !st.Applier.SnapshotRequested.IsZero() {
		t.Fatal("a snapshot request got through while the peer was cut off")
	}
	// A restart while resyncing keeps resyncing: the state is in the checkpoint.
	dm.stop()
	dm = p.start("west")
	waitFor(t, 2*time.Minute, "west to resume resyncing after a restart", func() bool {
		st := dm.d.Status()
		return st.Applier != nil && st.Applier.State == want && st.Applier.ResyncSkipped >= 100
	})
	if cp := readCheckpoint(t, west); cp.Seq != before.Seq || cp.WatermarkZxid != before.WatermarkZxid || cp.Resync == nil {
		t.Fatalf("west moved across the restart while resyncing: %+v", cp)
	}
	// The peer comes back: west's snapshot request, retried meanwhile, reaches
	// the source.
	peerLink.Heal()
	p.waitConverged(3 * time.Minute)
	waitFor(t, time.Minute, "the resync state to clear", func() bool {
		c := readCheckpoint(t, west)
		return c.Resync == nil && c.WatermarkZxid > before.WatermarkZxid
	})
	for i := 0; i < doomed; i++ {
		if ok, _, _ := west.Exists(fmt.Sprintf("/gap/del-%02d", i)); ok {
			t.Fatalf("/gap/del-%02d, deleted during the gap, survived the resync", i)
		}
	}
	st = dm.d.Status()
	if st.Applier == nil || st.Applier.State != "applying" || st.Applier.LastError != "" || st.Applier.SnapshotRequested.IsZero() {
		t.Fatalf("west after the resync: %+v", st.Applier)
	}
}

// A message the standby cannot decode stops its applier with the sequence in
// the error and changes nothing; `zkdr journal skip` moves past it, the running
// daemon picks that up, and the standby converges.
func TestPoisonMessage(t *testing.T) {
	p := newPair(t)
	east, west := p.conn["east"], p.conn["west"]
	mustCreate(t, east, "/poison", []byte("p"), 0, nil)
	mustCreate(t, east, "/poison/before", []byte("b"), 0, nil)
	p.start("east")
	dm := p.start("west")
	p.waitConverged(2 * time.Minute)

	// A corrupt message as the next sequence of east's stream, while east's
	// source is stopped (its appender would be fenced by it otherwise).
	p.daemons["east"].stop()
	bad := publishRaw(t, p.nats["east"].ClientURL(), journal.SubjectName("east"), []byte("\x00\xffnot a journal frame"))
	t.Logf("corrupt message at %s sequence %d", journal.StreamName("east"), bad)
	p.start("east")
	mustCreate(t, east, "/poison/after", []byte("a"), 0, nil)

	waitFor(t, 2*time.Minute, "west's applier to stop on the corrupt message", func() bool {
		return strings.Contains(dm.d.Status().LastErr, fmt.Sprintf("sequence %d", bad))
	})
	st := dm.d.Status()
	t.Logf("west stopped: %s", st.LastErr)
	if !strings.Contains(st.LastErr, "undecodable") {
		t.Errorf("daemon error does not say the message is undecodable: %q", st.LastErr)
	}
	// Everything after it has reached west's mirror, and none of it is applied.
	waitFor(t, time.Minute, "the messages after the corrupt one in west's mirror", func() bool {
		_, last := streamBounds(t, p.nats["west"].ClientURL(), journal.StreamName("east"))
		return last > bad+1
	})
	if cp := readCheckpoint(t, west); cp.Seq != bad-1 {
		t.Fatalf("west's checkpoint at %d, want %d (just before the corrupt message)", cp.Seq, bad-1)
	}
	if ok, _, _ := west.Exists("/poison/after"); ok {
		t.Fatal("west applied a change after the corrupt message")
	}
	if data, _, err := west.Get("/poison/before"); err != nil || string(data) != "b" {
		t.Fatalf("west /poison/before = %q (%v)", data, err)
	}

	cfg := p.configFile("west")
	if out, err := p.zkdr("journal", "skip", "--config", cfg, "--seq", fmt.Sprint(bad+1)); err == nil {
		t.Fatalf("skipping a message that is not the next one succeeded:\n%s", out)
	}
	out, err := p.zkdr("journal", "skip", "--config", cfg, "--seq", fmt.Sprint(bad), "--reason", "e2e corrupt message")
	if err != nil {
		t.Fatalf("zkdr journal skip: %v\n%s", err, out)
	}
	t.Logf("zkdr journal skip: %s", strings.TrimSpace(out))
	p.waitConverged(2 * time.Minute)
	waitFor(t, time.Minute, "the daemon error to clear", func() bool { return dm.d.Status().LastErr == "" })
	cp := readCheckpoint(t, west)
	if len(cp.Skipped) != 1 || cp.Skipped[0].Seq != bad || cp.Skipped[0].Reason != "e2e corrupt message" {
		t.Fatalf("skipped history %+v", cp.Skipped)
	}
}

// streamBounds reads the first and last sequence of a stream at url.
func streamBounds(t *testing.T, url, stream string) (first, last uint64) {
	t.Helper()
	info := streamInfo(t, url, stream)
	return info.State.FirstSeq, info.State.LastSeq
}

// streamInfo reads a stream's configuration and state at url.
func streamInfo(t *testing.T, url, stream string) *jetstream.StreamInfo {
	t.Helper()
	js, done := jetStreamAt(t, url)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// jetStreamAt connects to the NATS server at url; done closes the connection.
func jetStreamAt(t *testing.T, url string) (js jetstream.JetStream, done func()) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err = jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return js, nc.Close
}

// publishRaw appends data to a journal subject as it is, with the headers of
// an epoch-1 writer, and returns its stream sequence.
func publishRaw(t *testing.T, url, subject string, data []byte) uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(journal.HeaderSite, "east")
	msg.Header.Set(journal.HeaderEpoch, "1")
	msg.Header.Set(journal.HeaderWriter, "e2e-corrupter")
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}
