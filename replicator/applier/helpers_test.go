package applier

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/eventually"
	"github.com/zkdr/zkdr/internal/zkserver"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
)

// fakeJournal serves messages like a journal.Reader: in order from a start
// sequence, what is there at once, blocking when nothing is. Tests append while
// appliers read. first > 1 simulates retention; poison makes one sequence
// undecodable.
type fakeJournal struct {
	mu     sync.Mutex
	msgs   []journal.Message // msgs[i].Seq == first+i
	first  uint64
	poison map[uint64]bool
	more   chan struct{} // closed and replaced on append
}

func newFakeJournal() *fakeJournal {
	return &fakeJournal{first: 1, poison: map[uint64]bool{}, more: make(chan struct{})}
}

// add appends one message holding evs and returns its sequence.
func (j *fakeJournal) add(evs ...journal.Event) uint64 {
	return j.addAt(time.Now(), evs...)
}

// addAt is add for a message the journal stored at published.
func (j *fakeJournal) addAt(published time.Time, evs ...journal.Event) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	seq := j.first + uint64(len(j.msgs))
	j.msgs = append(j.msgs, journal.Message{Seq: seq, FirstSeq: seq, Events: evs, Published: published})
	close(j.more)
	j.more = make(chan struct{})
	return seq
}

func (j *fakeJournal) last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.first + uint64(len(j.msgs)) - 1
}

func (j *fakeJournal) open(_ context.Context, start uint64) (JournalReader, error) {
	return &fakeReader{j: j, next: start}, nil
}

type fakeReader struct {
	j    *fakeJournal
	next uint64
}

func (r *fakeReader) Fetch(ctx context.Context, max int) ([]journal.Message, error) {
	for {
		r.j.mu.Lock()
		if r.next == 0 {
			r.next = r.j.first // start 0: the first message held
		}
		if r.next < r.j.first {
			r.j.mu.Unlock()
			return nil, fmt.Errorf("fetch from %d, first is %d: %w", r.next, r.j.first, journal.ErrRetentionGap)
		}
		var out []journal.Message
		for i := r.next - r.j.first; i < uint64(len(r.j.msgs)) && len(out) < max; i++ {
			m := r.j.msgs[i]
			if r.j.poison[m.Seq] {
				if len(out) > 0 {
					break
				}
				r.j.mu.Unlock()
				return nil, &journal.DecodeError{Stream: "ZKDR_east", Seq: m.Seq, Err: journal.ErrCorrupt}
			}
			m.Delivered = time.Now()
			out = append(out, m)
		}
		more := r.j.more
		r.j.mu.Unlock()
		if len(out) > 0 {
			r.next = out[len(out)-1].Seq + 1
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-more:
		}
	}
}

func (r *fakeReader) Close() error { return nil }

func (r *fakeReader) Bounds(context.Context) (first, last uint64, err error) {
	r.j.mu.Lock()
	defer r.j.mu.Unlock()
	return r.j.first, r.j.first + uint64(len(r.j.msgs)) - 1, nil
}

// drop simulates retention: the journal now starts at first.
func (j *fakeJournal) drop(first uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.msgs, j.first = nil, first
}

func testApplierConfig(t testing.TB, c *zkserver.Cluster, j *fakeJournal) Config {
	cfg := DefaultConfig()
	cfg.Site, cfg.Stream = "west", "ZKDR_east"
	cfg.Servers = c.Servers()
	cfg.SessionTimeout = 4 * time.Second
	cfg.Auth = zktest.Super
	cfg.OpenReader = j.open
	cfg.Logger = zktest.Logger(t, "west")
	return cfg
}

// runningApplier is an Applier whose Run goroutine the test can stop.
type runningApplier struct {
	*Applier
	cancel context.CancelFunc
	done   chan error
}

func startApplier(t testing.TB, cfg Config) *runningApplier {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("new applier: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningApplier{Applier: a, cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(func() { ra.stop(t) })
	return ra
}

// stop cancels Run and returns what it returned (once; later calls return nil).
func (ra *runningApplier) stop(t testing.TB) error {
	ra.cancel()
	select {
	case err, ok := <-ra.done:
		if ok {
			close(ra.done)
		}
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("applier did not stop")
		return nil
	}
}

// wait returns Run's result once it ends by itself.
func (ra *runningApplier) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-ra.done:
		close(ra.done)
		return err
	case <-time.After(timeout):
		t.Fatalf("applier still running after %v (stats %+v)", timeout, ra.Stats())
		return nil
	}
}

func waitApplied(t testing.TB, a *Applier, seq uint64) {
	t.Helper()
	eventually.True(t, 90*time.Second, fmt.Sprintf("sequence %d applied", seq), func() bool { return a.Stats().AppliedSeq >= seq })
}

// apModel is the primary's tree as the test's events describe it.
type apModel map[string]zktree.Node

var (
	openACL   = zk.WorldACL(zk.PermAll)
	aliceOnly = zk.DigestACL(zk.PermAll, "alice", "alice-secret")
)

// ev builds an event of epoch 1 for site east.
func ev(kind journal.Kind, p string, data string, mode journal.Mode, acl []zk.ACL) journal.Event {
	var d []byte
	if data != "" {
		d = []byte(data)
	}
	return journal.Event{Site: "east", Epoch: 1, Kind: kind, Path: p, Data: d, ACL: acl, Mode: mode}
}

// compareStandby walks the standby and fails on any difference from want.
func compareStandby(t testing.TB, conn *zk.Conn, want apModel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := zktree.Walk(ctx, conn, "/", zktree.Options{})
	if err != nil {
		t.Fatalf("walk standby: %v", err)
	}
	w := zktree.Tree{"/": {ACL: openACL, Sum: sha256.Sum256(nil)}}
	for p, n := range want {
		n.Sum, n.Size = sha256.Sum256(n.Data), len(n.Data)
		w[p] = n
	}
	if diff := zktree.Diff(w, got); len(diff) > 0 {
		for i, d := range diff {
			if i == 20 {
				t.Errorf("... %d differences in all", len(diff))
				break
			}
			t.Errorf("standby differs: %s", d)
		}
		t.FailNow()
	}
}
