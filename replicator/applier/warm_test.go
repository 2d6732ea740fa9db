package applier

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
)

// A clean stop saves the index and the next start uses it instead of walking
// the standby; a write made behind the stopped applier's back is seen by the
// witness, the start is cold, and the standby still converges.
func TestApplierWarmStart(t *testing.T) {
	zkc := zktest.Start(t)
	conn := zktest.Admin(t, zkc.Servers())
	j := newFakeJournal()
	j.add(ev(journal.KindCreate, "/w", "", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/w/a", "1", journal.ModePersistent, openACL),
		ev(journal.KindCreate, "/w/b", "1", journal.ModePersistent, aliceOnly))
	cfg := testApplierConfig(t, zkc, j)
	cfg.IndexFile = filepath.Join(t.TempDir(), "index")
	run := func(want string) {
		t.Helper()
		a := startApplier(t, cfg)
		waitApplied(t, a.Applier, j.last())
		if err := a.stop(t); err != nil {
			t.Fatalf("run: %v", err)
		}
		if got := a.Stats().Start; !strings.HasPrefix(got, want) {
			t.Fatalf("start = %q, want %q...", got, want)
		}
		if _, err := os.Stat(cfg.IndexFile); err != nil {
			t.Fatalf("no index saved at the clean stop: %v", err)
		}
	}

	run("cold: no saved index")
	// Warm: the index knows /w/b's ACL and that /w/a exists.
	j.add(ev(journal.KindUpdate, "/w/a", "2", journal.ModePersistent, aliceOnly),
		ev(journal.KindCreate, "/w/c", "1", journal.ModePersistent, openACL))
	run("warm")
	compareStandby(t, conn, apModel{
		"/w":   {ACL: openACL},
		"/w/a": {Data: []byte("2"), ACL: aliceOnly},
		"/w/b": {Data: []byte("1"), ACL: aliceOnly},
		"/w/c": {Data: []byte("1"), ACL: openACL},
	})

	// Behind its back: an ACL the index would trust, and a node it does
	// not know.
	if _, err := conn.SetACL("/w/b", openACL, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create("/w/extra", nil, 0, openACL); err != nil {
		t.Fatal(err)
	}
	// The primary writes /w/b again with its unchanged ACL, and a snapshot
	// says what exists.
	j.add(ev(journal.KindUpdate, "/w/b", "2", journal.ModePersistent, aliceOnly))
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotBegin, Snapshot: 3})
	want := apModel{
		"/w":   {ACL: openACL},
		"/w/a": {Data: []byte("2"), ACL: aliceOnly},
		"/w/b": {Data: []byte("2"), ACL: aliceOnly},
		"/w/c": {Data: []byte("1"), ACL: openACL},
	}
	for _, p := range []string{"/w", "/w/a", "/w/b", "/w/c"} {
		j.add(ev(journal.KindSnapshotNode, p, string(want[p].Data), journal.ModePersistent, want[p].ACL))
	}
	j.add(journal.Event{Site: "east", Epoch: 1, Kind: journal.KindSnapshotEnd, Snapshot: 3})
	run("cold: the standby changed since the index was saved")
	compareStandby(t, conn, want)

	// A checkpoint moved by something else (here an applier without the
	// file) is cold too, even with the digest of the moved standby.
	saved, err := readIndexFile(cfg.IndexFile)
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.IndexFile = ""
	j.add(ev(journal.KindUpdate, "/w/c", "2", journal.ModePersistent, openACL))
	want["/w/c"] = zktree.Node{Data: []byte("2"), ACL: openACL}
	a := startApplier(t, other)
	waitApplied(t, a.Applier, j.last())
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	cp, err := ReadCheckpoint(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tree, why := b.warmTree(saved, cp); tree != nil || !strings.HasPrefix(why, "the checkpoint moved") {
		t.Fatalf("warm tree of a moved checkpoint: %v, %q", tree != nil, why)
	}
	compareStandby(t, conn, want)
}
