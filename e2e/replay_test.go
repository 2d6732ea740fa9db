package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
	"github.com/zkdr/zkdr/replicator/source"
)

// zkdr replay rebuilds the active tree in another ensemble from the journal:
// to the latest point (equal to the active tree: data, ACLs, modes, sequence
// counters), to a time between two writes (the tree as it was then: a node
// deleted later is back), after retention dropped the bootstrap snapshot
// (from a later one), refusing a non-empty target unless --force, with a
// --json summary. West's ensemble, whose daemon never runs, is the target.
func TestReplay(t *testing.T) {
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		// Bounded retention, with snapshots on request only in practice.
		c.Journal.MaxMsgs = 1500
		c.Source.SnapshotEveryEvents = 1 << 30
	}))
	east, west := p.conn["east"], p.conn["west"]
	url := p.nats["east"].ClientURL()
	stream := journal.StreamName("east")
	cfgFile := p.configFile("east")
	target := p.zk["west"].ConnectString()

	// A tree with what a naive copy loses: ACLs, containers, TTL nodes,
	// sequential children whose parent's counter is ahead of its children.
	mustCreate(t, east, "/app", []byte("app"), 0, nil)
	mustCreate(t, east, "/app/cfg", []byte("v1"), 0, nil)
	mustCreate(t, east, "/app/secret", []byte("s"), 0, append(zk.DigestACL(zk.PermAll, "alice", "pw"), zk.WorldACL(zk.PermRead)...))
	if _, err := east.CreateContainer("/app/box", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, east, "/app/box/item", []byte("i"), 0, nil)
	if _, err := east.CreateTTL("/app/ttl", []byte("t"), zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Hour); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, east, "/app/q", nil, 0, nil)
	var seqNames []string
	for i := 0; i < 4; i++ {
		seqNames = append(seqNames, mustCreate(t, east, "/app/q/n-", nil, zk.FlagSequence, nil))
	}
	if err := east.Delete(seqNames[3], -1); err != nil {
		t.Fatal(err)
	}
	p.start("east")
	waitFor(t, time.Minute, "the bootstrap snapshot", func() bool { return len(completeSnapshots(t, url, stream)) >= 1 })
	boot := completeSnapshots(t, url, stream)[0]

	// Two known writes with a time between them: /doomed exists and /app/cfg
	// is v1 at `between`; after it /doomed is deleted, /app/cfg becomes v2 and
	// /late is created.
	mustCreate(t, east, "/doomed", []byte("d"), 0, nil)
	waitJournal(t, url, stream, "/doomed", journal.KindCreate)
	between := time.Now()
	if err := east.Delete("/doomed", -1); err != nil {
		t.Fatal(err)
	}
	if _, err := east.Set("/app/cfg", []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, east, "/late", []byte("l"), 0, nil)
	waitJournal(t, url, stream, "/late", journal.KindCreate)

	// A zxid point: the create of /doomed, before its delete.
	_, st, err := east.Exists("/late")
	if err != nil {
		t.Fatal(err)
	}
	lateZxid := st.Czxid
	out, err := p.zkdr("replay", "--config", cfgFile, "--target", target+"/zx", "--until", fmt.Sprintf("zxid:%#x", lateZxid-1))
	if err != nil {
		t.Fatalf("zkdr replay --until zxid: %v\n%s", err, out)
	}
	if ok, _, _ := west.Exists("/zx/late"); ok {
		t.Fatalf("/late, created at zxid %#x, replayed to zxid %#x", lateZxid, lateZxid-1)
	}
	if data, _, err := west.Get("/zx/app/cfg"); err != nil || string(data) != "v2" {
		t.Fatalf("/app/cfg just before /late = %q (%v), want v2", data, err)
	}
	if _, err := west.Create("/zx/marker", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// Cleared again so the whole-ensemble replay below meets an empty target.
	for _, p := range []string{"/zx/marker", "/zx"} {
		if err := deleteTree(west, p); err != nil {
			t.Fatal(err)
		}
	}

	// Latest, into the whole ensemble.
	out, err = p.zkdr("replay", "--config", cfgFile, "--target", target)
	if err != nil {
		t.Fatalf("zkdr replay: %v\n%s", err, out)
	}
	t.Logf("zkdr replay:\n%s", out)
	for _, want := range []string{fmt.Sprintf("snapshot    %d", boot.ID), "state as of zxid", "not a standby"} {
		if !strings.Contains(out, want) {
			t.Fatalf("replay summary lacks %q:\n%s", want, out)
		}
	}
	assertSameTree(t, east, "/", west, "/")
	// The counter under /app/q was carried: a new sequential child sorts
	// after every replicated one, the deleted one included.
	name := mustCreate(t, west, "/app/q/n-", nil, zk.FlagSequence, nil)
	if name <= seqNames[3] {
		t.Fatalf("sequential create on the replayed tree returned %s, not after %s", name, seqNames[3])
	}
	if err := west.Delete(name, -1); err != nil {
		t.Fatal(err)
	}
	cp := readCheckpoint(t, west)
	if cp.Stream != applier.ReplayCheckpointStream(stream, "/") || cp.Seq == 0 {
		t.Fatalf("checkpoint after a replay: %+v", cp)
	}
	if rec := replayRecord(t, west); !rec.Complete || rec.Root != "/" || rec.LastSeq != cp.Seq {
		t.Fatalf("replay record: %+v (checkpoint at %d)", rec, cp.Seq)
	}

	// A non-empty target is refused without --force.
	out, err = p.zkdr("replay", "--config", cfgFile, "--target", target)
	if err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("replay into a non-empty target: %v\n%s", err, out)
	}

	// To a time between the two writes, into a chroot.
	out, err = p.zkdr("replay", "--config", cfgFile, "--target", target+"/pit", "--until", between.Format(time.RFC3339Nano))
	if err != nil {
		t.Fatalf("zkdr replay --until: %v\n%s", err, out)
	}
	t.Logf("zkdr replay --until %s:\n%s", between.Format(time.RFC3339Nano), out)
	if data, _, err := west.Get("/pit/doomed"); err != nil || string(data) != "d" {
		t.Fatalf("/doomed, deleted after the point, is not back: %q %v", data, err)
	}
	if data, _, err := west.Get("/pit/app/cfg"); err != nil || string(data) != "v1" {
		t.Fatalf("/app/cfg at the point = %q (%v), want v1", data, err)
	}
	if ok, _, _ := west.Exists("/pit/late"); ok {
		t.Fatal("/late, created after the point, was replayed")
	}
	if acl, _, err := west.GetACL("/pit/app/secret"); err != nil || len(acl) != 2 {
		t.Fatalf("ACL of /app/secret at the point: %v %v", acl, err)
	}

	// Again into the same chroot: refused, then with --force to the latest
	// point, with a JSON summary; /pit then equals the active tree.
	out, err = p.zkdr("replay", "--config", cfgFile, "--target", target+"/pit")
	if err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("replay into a non-empty chroot: %v\n%s", err, out)
	}
	out, err = p.zkdr("replay", "--config", cfgFile, "--target", target+"/pit", "--force", "--json")
	if err != nil {
		t.Fatalf("zkdr replay --force --json: %v\n%s", err, out)
	}
	var sum applier.ReplayRecord
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("replay --json is not JSON: %v\n%s", err, out)
	}
	if !sum.Complete || sum.Root != "/pit" || sum.Snapshot.ID != boot.ID || sum.Events == 0 || sum.LastZxid == 0 ||
		sum.LastSeq < sum.Snapshot.EndSeq || sum.Nodes == 0 || sum.Point != "latest" {
		t.Fatalf("replay --json summary: %s", out)
	}
	assertSameTree(t, east, "/", west, "/pit")

	// Retention: writes that put room between the bootstrap snapshot and the
	// next, a snapshot on request, then enough writes that the stream drops
	// the bootstrap snapshot but keeps the later one; a replay starts from it.
	mustCreate(t, east, "/pad", nil, 0, nil)
	padded := 0
	waitFor(t, 2*time.Minute, "room after the bootstrap snapshot", func() bool {
		for i := 0; i < 25; i++ {
			mustCreate(t, east, fmt.Sprintf("/pad/n-%04d", padded), []byte("p"), 0, nil)
			padded++
		}
		_, last := streamBounds(t, url, stream)
		return last > boot.EndSeq+200
	})
	reqConn := dial(t, p.zk["east"].Servers())
	if err := source.RequestSnapshot(context.Background(), reqConn, "e2e", "replay after retention"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "a snapshot on request", func() bool {
		s := completeSnapshots(t, url, stream)
		return len(s) >= 2 && s[len(s)-1].ID != boot.ID
	})
	mustCreate(t, east, "/bulk", nil, 0, nil)
	created := 0
	waitFor(t, 2*time.Minute, "retention to drop the bootstrap snapshot", func() bool {
		for i := 0; i < 25; i++ {
			mustCreate(t, east, fmt.Sprintf("/bulk/n-%04d", created), []byte("b"), 0, nil)
			created++
		}
		first, _ := streamBounds(t, url, stream)
		return first > boot.EndSeq
	})
	mustCreate(t, east, "/end", nil, 0, nil)
	waitJournal(t, url, stream, "/end", journal.KindCreate)
	out, err = p.zkdr("journal", "info", "--config", cfgFile, "--json")
	if err != nil {
		t.Fatalf("zkdr journal info --json: %v\n%s", err, out)
	}
	var infos []journal.JournalInfo
	// West's daemon never ran, so its mirror is missing: said on stderr.
	if i := strings.Index(out, "["); i > 0 {
		out = out[i:]
	}
	if err := json.Unmarshal([]byte(out), &infos); err != nil || len(infos) == 0 || infos[0].Stream != stream {
		t.Fatalf("journal info --json: %v\n%s", err, out)
	}
	in := infos[0]
	if in.Replayable == nil || in.Replayable.Snapshot == boot.ID || in.Replayable.FromSeq < in.FirstSeq || in.Replayable.ToSeq != in.LastSeq {
		t.Fatalf("replayable range after retention: %+v (stream %d..%d)", in.Replayable, in.FirstSeq, in.LastSeq)
	}
	text, err := p.zkdr("journal", "info", "--config", cfgFile)
	if err != nil || !strings.Contains(text, "replayable  seq") || !strings.Contains(text, "snapshots ") {
		t.Fatalf("journal info: %v\n%s", err, text)
	}
	t.Logf("zkdr journal info:\n%s", text)
	out, err = p.zkdr("replay", "--config", cfgFile, "--target", target+"/retained", "--json")
	if err != nil {
		t.Fatalf("zkdr replay after retention: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Snapshot.ID == boot.ID || sum.Snapshot.ID != in.Replayable.Snapshot {
		t.Fatalf("replay after retention used snapshot %d (bootstrap %d, oldest held %d): %v\n%s", sum.Snapshot.ID, boot.ID, in.Replayable.Snapshot, err, out)
	}
	assertSameTree(t, east, "/", west, "/retained")
	t.Logf("%d nodes written to push the bootstrap snapshot out; replayed %d events in %.1fs", created, sum.Events, sum.Seconds)

	// A point before every snapshot still held is refused, naming what is.
	out, err = p.zkdr("replay", "--config", cfgFile, "--target", target+"/early", "--until", fmt.Sprintf("seq:%d", boot.EndSeq))
	if err == nil || !strings.Contains(out, "no complete snapshot") {
		t.Fatalf("replay to a dropped point: %v\n%s", err, out)
	}
}

// assertSameTree fails unless the trees under the two roots are equal: paths,
// data, ACLs and modes (ephemeral nodes left out).
func assertSameTree(t *testing.T, a *zk.Conn, aRoot string, b *zk.Conn, bRoot string) {
	t.Helper()
	ctx := context.Background()
	ta, err := zktree.Walk(ctx, a, aRoot, zktree.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := zktree.Walk(ctx, b, bRoot, zktree.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := zktree.Diff(ta, tb); len(d) > 0 {
		if len(d) > 20 {
			d = d[:20]
		}
		t.Fatalf("%s differs from the active tree (%d nodes vs %d): %v", bRoot, len(tb), len(ta), d)
	}
}

// completeSnapshots lists the complete snapshots the stream holds, oldest first.
func completeSnapshots(t *testing.T, url, stream string) []journal.SnapshotInfo {
	t.Helper()
	js, done := jetStreamAt(t, url)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snaps, err := journal.ListSnapshots(ctx, js, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil // the source has not provisioned it yet
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []journal.SnapshotInfo
	for _, s := range snaps {
		if s.Complete() {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EndSeq < out[j].EndSeq })
	return out
}

// waitJournal waits until the journal's last few hundred messages hold an
// event of kind for path. It reads near the tail, so retention dropping the
// head meanwhile does not disturb it.
func waitJournal(t *testing.T, url, stream, path string, kind journal.Kind) {
	t.Helper()
	js, done := jetStreamAt(t, url)
	defer done()
	has := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		in, err := journal.Info(ctx, js, stream)
		if err != nil || in.Messages == 0 {
			return false
		}
		from := in.FirstSeq
		if in.LastSeq > 300 {
			from = max(from, in.LastSeq-300)
		}
		r, err := journal.NewReader(js, journal.ReaderConfig{Stream: stream, StartSeq: from})
		if err != nil {
			return false
		}
		defer r.Close()
		for {
			msgs, err := r.Fetch(ctx, 256)
			if err != nil {
				return false
			}
			for _, m := range msgs {
				for _, ev := range m.Events {
					if ev.Kind == kind && ev.Path == path {
						return true
					}
				}
				if m.Seq >= in.LastSeq {
					return false
				}
			}
		}
	}
	waitFor(t, time.Minute, fmt.Sprintf("a %s of %s in the journal", kind, path), has)
}

// deleteTree deletes p and everything under it.
func deleteTree(c *zk.Conn, p string) error {
	kids, _, err := c.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := deleteTree(c, p+"/"+k); err != nil {
			return err
		}
	}
	if err := c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

func replayRecord(t *testing.T, c *zk.Conn) applier.ReplayRecord {
	t.Helper()
	rec, err := applier.ReadReplayRecord(c)
	if err != nil || rec == nil {
		t.Fatalf("read the replay record: %v", err)
	}
	return *rec
}

// TestReplayRate measures `zkdr replay` of a large tree into a fresh
// ensemble: ZKDR_REPLAY_NODES=100000 go test -run TestReplayRate ./e2e/
// (skipped otherwise; it reports, never asserts, the rate).
func TestReplayRate(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZKDR_REPLAY_NODES"))
	if n <= 0 {
		t.Skip("set ZKDR_REPLAY_NODES (for example 100000) to measure the replay rate")
	}
	p := newPair(t)
	east := p.conn["east"]
	const dirs = 100
	mustCreate(t, east, "/bench", nil, 0, nil)
	for d := 0; d < dirs; d++ {
		mustCreate(t, east, fmt.Sprintf("/bench/d%03d", d), nil, 0, nil)
	}
	start := time.Now()
	data := make([]byte, 100)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 64 {
				if _, err := east.Create(fmt.Sprintf("/bench/d%03d/n%06d", i%dirs, i), data, 0, zk.WorldACL(zk.PermAll)); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("created %d znodes in %s", n, time.Since(start).Round(time.Millisecond))
	p.start("east")
	url, stream := p.nats["east"].ClientURL(), journal.StreamName("east")
	waitFor(t, 10*time.Minute, "the bootstrap snapshot", func() bool { return len(completeSnapshots(t, url, stream)) >= 1 })
	snap := completeSnapshots(t, url, stream)[0]
	t.Logf("bootstrap snapshot: %d nodes, sequences %d..%d", snap.Nodes, snap.BeginSeq, snap.EndSeq)
	start = time.Now()
	out, logs, err := runZkdr("replay", "--config", p.configFile("east"), "--target", p.zk["west"].ConnectString(), "--json")
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("zkdr replay: %v\n%s\n%s", err, out, tail(logs, 4000))
	}
	var sum applier.ReplayRecord
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("REPLAY RATE: %d nodes, %d events in %.1fs (process wall %s): %.0f znodes/s", sum.Nodes, sum.Events, sum.Seconds,
		wall.Round(time.Millisecond), float64(sum.Nodes)/sum.Seconds)
	if sum.Nodes < n {
		t.Fatalf("replayed %d nodes, created %d", sum.Nodes, n)
	}
	assertSameTree(t, east, "/", p.conn["west"], "/")

	// The verify rate on the same pair of trees.
	out, logs, err = runZkdr("verify", "--source", p.zk["east"].ConnectString(), "--target", p.zk["west"].ConnectString(),
		"--auth-env", "ZKDR_E2E_AUTH", "--json")
	if err != nil {
		t.Fatalf("zkdr verify: %v\n%s\n%s", err, out, tail(logs, 4000))
	}
	var ver struct {
		Equal       bool    `json:"equal"`
		Seconds     float64 `json:"seconds"`
		SourceNodes int     `json:"source_nodes"`
	}
	if err := json.Unmarshal([]byte(out), &ver); err != nil || !ver.Equal {
		t.Fatalf("verify: %v equal=%t\n%s", err, ver.Equal, out)
	}
	t.Logf("VERIFY RATE: %d nodes on each side in %.1fs: %.0f znodes/s", ver.SourceNodes, ver.Seconds, float64(ver.SourceNodes)/ver.Seconds)
}
