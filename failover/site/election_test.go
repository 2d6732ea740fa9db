package site

import (
	"context"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/zktest"
)

// One daemon of a site leads; when its session ends, the next one takes over,
// and the old leader learns it lost.
func TestElectionHandsOverOnLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	c := zktest.StartSite(t)
	a, b := zktest.Dial(t, c.Servers()), zktest.Dial(t, c.Servers())
	never := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	la, err := Elect(ctx, a, "daemon-a", never, zktest.Logger(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		l   *Leadership
		err error
	}
	got := make(chan result, 1)
	go func() {
		l, err := Elect(ctx, b, "daemon-b", never, zktest.Logger(t, "b"))
		got <- result{l, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("a second daemon became leader while the first leads: %v", r.err)
	case <-time.After(time.Second):
	}
	a.Close() // the leader's process dies: its session and election node go
	select {
	case <-la.Lost:
	case <-time.After(time.Minute):
		t.Fatal("the old leader was not told it lost leadership")
	}
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.l.Resign()
		select {
		case <-r.l.Lost:
		case <-time.After(time.Minute):
			t.Fatal("resigning did not end the leadership")
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting daemon did not take over")
	}
}
