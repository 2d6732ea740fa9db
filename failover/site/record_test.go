package site

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zktest"
)

func TestNextEpoch(t *testing.T) {
	cases := []struct {
		name    string
		records []Record
		want    uint64
	}{
		{"none", nil, 1},
		{"new pair", []Record{{Epoch: 1}, {Epoch: 0}}, 2},
		{"after promotions", []Record{{Epoch: 4}, {Epoch: 7}}, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := NextEpoch(c.records...); got != c.want {
				t.Fatalf("NextEpoch = %d, want %d", got, c.want)
			}
		})
	}
}

func TestActiveSite(t *testing.T) {
	a := func(site string, role Role, epoch uint64) Record { return Record{Site: site, Role: role, Epoch: epoch} }
	cases := []struct {
		name    string
		records []Record
		want    string // "" = none
	}{
		{"new pair", []Record{a("east", RoleActive, 1), a("west", RoleStandby, 0)}, "east"},
		{"promoted", []Record{a("east", RoleFenced, 1), a("west", RoleActive, 2)}, "west"},
		{"old primary returns still active", []Record{a("east", RoleActive, 1), a("west", RoleActive, 2)}, "west"},
		{"fenced, not yet promoted", []Record{a("east", RoleFenced, 1), a("west", RoleStandby, 0)}, ""},
		{"superseded active", []Record{a("east", RoleActive, 1), a("west", RoleStandby, 2)}, ""},
		{"split brain at one epoch", []Record{a("east", RoleActive, 3), a("west", RoleActive, 3)}, ""},
		{"only one site known", []Record{a("west", RoleActive, 2)}, "west"},
		{"nothing known", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, ok := ActiveSite(c.records...)
			if got := rec.Site; got != c.want || ok != (c.want != "") {
				t.Fatalf("ActiveSite = %q,%v want %q", got, ok, c.want)
			}
		})
	}
}

func TestRecordCreateCASAndEpochRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	ctx := context.Background()
	east := zktest.StartSite(t)
	conn := zktest.Dial(t, east.Servers())

	if _, _, err := ReadRecord(ctx, conn); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("ReadRecord on an empty ensemble: %v, want ErrNoRecord", err)
	}
	rec, v, err := EnsureRecord(ctx, conn, "east", RoleActive)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Role != RoleActive || rec.Epoch != 1 || rec.Site != "east" || v != 0 {
		t.Fatalf("created %+v version %d, want east active epoch 1 version 0", rec, v)
	}
	if _, _, err := EnsureRecord(ctx, conn, "west", RoleActive); !errors.Is(err, ErrSiteMismatch) {
		t.Fatalf("EnsureRecord with another site name: %v, want ErrSiteMismatch", err)
	}

	// Two writers read the same version; exactly one wins.
	var (
		wg   sync.WaitGroup
		errs = make([]error, 2)
	)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := rec
			next.Role, next.ChangedBy, next.Since = RoleFenced, []string{"a", "b"}[i], time.Time{}
			_, _, errs[i] = WriteRecord(ctx, conn, next, v)
		}()
	}
	wg.Wait()
	wins, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, ErrVersionConflict):
			conflicts++
		default:
			t.Fatalf("concurrent write: %v", err)
		}
	}
	if wins != 1 || conflicts != 1 {
		t.Fatalf("wins %d conflicts %d, want 1 and 1", wins, conflicts)
	}

	cur, v2, err := ReadRecord(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Role != RoleFenced || v2 != 1 || cur.Since.IsZero() {
		t.Fatalf("after CAS: %+v version %d", cur, v2)
	}
	// A stale version loses even with a higher epoch.
	if _, _, err := WriteRecord(ctx, conn, Record{Site: "east", Role: RoleActive, Epoch: 9}, v); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("write with a stale version: %v, want ErrVersionConflict", err)
	}
	// Epochs only grow.
	up := cur
	up.Role, up.Epoch = RoleActive, 3
	written, v3, err := WriteRecord(ctx, conn, up, v2)
	if err != nil {
		t.Fatal(err)
	}
	down := written
	down.Epoch = 2
	if _, _, err := WriteRecord(ctx, conn, down, v3); !errors.Is(err, ErrEpochRegression) {
		t.Fatalf("lower epoch: %v, want ErrEpochRegression", err)
	}
	if got, _, _ := ReadRecord(ctx, conn); got.Epoch != 3 {
		t.Fatalf("epoch after refused regression = %d, want 3", got.Epoch)
	}
}

func TestInitialRoleAppliesOnlyWithoutRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	ctx := context.Background()
	west := zktest.StartSite(t)
	conn := zktest.Dial(t, west.Servers())

	rec, _, err := EnsureRecord(ctx, conn, "west", RoleStandby)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Role != RoleStandby || rec.Epoch != 0 {
		t.Fatalf("created %+v, want standby epoch 0", rec)
	}
	// A promotion happened; a restart with the old config must not undo it,
	// nor may a config that now says active change anything.
	promoted := rec
	promoted.Role, promoted.Epoch = RoleActive, NextEpoch(rec, Record{Epoch: 1})
	if _, _, err := WriteRecord(ctx, conn, promoted, 0); err != nil {
		t.Fatal(err)
	}
	for _, initial := range []Role{RoleStandby, RoleActive} {
		got, v, err := EnsureRecord(ctx, conn, "west", initial)
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != RoleActive || got.Epoch != 2 || v != 1 {
			t.Fatalf("initial_role %s over an existing record: %+v version %d", initial, got, v)
		}
	}
	if _, _, err := EnsureRecord(ctx, conn, "west", RoleFenced); err != nil {
		t.Fatalf("an existing record rules even over an invalid initial role: %v", err)
	}
}

func TestWatchRecordReportsChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	east := zktest.StartSite(t)
	conn := zktest.Dial(t, east.Servers())
	watcher := zktest.Dial(t, east.Servers())

	var (
		mu   sync.Mutex
		seen []RecordState
	)
	done := make(chan error, 1)
	go func() {
		done <- WatchRecord(ctx, watcher, func(s RecordState) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, s)
		})
	}()
	last := func() RecordState {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return RecordState{Err: errors.New("nothing yet")}
		}
		return seen[len(seen)-1]
	}
	eventually.True(t, 30*time.Second, "no record reported", func() bool { s := last(); return s.Err == nil && !s.Exists })

	rec, v, err := EnsureRecord(ctx, conn, "east", RoleActive)
	if err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, "record reported", func() bool { s := last(); return s.Exists && s.Record.Role == RoleActive })
	rec.Role = RoleFenced
	if _, _, err := WriteRecord(ctx, conn, rec, v); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, "fenced reported", func() bool { s := last(); return s.Exists && s.Record.Role == RoleFenced && s.Version == 1 })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("WatchRecord after cancel: %v", err)
	}
}

// cancelingConn cancels a context when a Set reaches it, then lets the Set
// through: the record changed, and the watch that would see it has fired.
type cancelingConn struct {
	RecordConn
	cancel context.CancelFunc
}

func (c cancelingConn) Set(path string, data []byte, version int32) (*zk.Stat, error) {
	c.cancel()
	return c.RecordConn.Set(path, data, version)
}

// TestWriteRecordReportsAWriteThatLandedAsCtxEnded: a rejoin whose last write
// (standby) is seen by the daemon's record watch, which cancels the rejoin,
// must still learn that its write landed.
func TestWriteRecordReportsAWriteThatLandedAsCtxEnded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	conn := zktest.Dial(t, zktest.StartSite(t).Servers())
	rec, v, err := EnsureRecord(context.Background(), conn, "east", RoleActive)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec.Role = RoleStandby
	got, nv, err := WriteRecord(ctx, cancelingConn{RecordConn: conn, cancel: cancel}, rec, v)
	if err != nil || got.Role != RoleStandby || nv != v+1 {
		t.Fatalf("WriteRecord: %+v version %d, %v; want standby at version %d", got, nv, err, v+1)
	}
}
