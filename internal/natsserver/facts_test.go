package natsserver

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestLeafnodeFacts pins down what the package doc says about JetStream domains
// across a leafnode, the facts zkdr's journal and failover code build on.
func TestLeafnodeFacts(t *testing.T) {
	east, west := StartPairT(t, "east", "west")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	enc, wnc := connect(t, east), connect(t, west)
	ejs := must(jetstream.New(enc))
	wjs := must(jetstream.New(wnc))
	eastToWest := must(jetstream.NewWithDomain(enc, "west"))
	westToWest := must(jetstream.NewWithDomain(wnc, "west"))

	// A mirror may be created through the domain API as well as the local one.
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "ZKDR_east", Subjects: []string{"zkdr.east.journal"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := westToWest.CreateStream(ctx, mirrorConfig("ZKDR_east", "east")); err != nil {
		t.Fatalf("create mirror via west domain: %v", err)
	}
	publishN(ctx, t, ejs, "zkdr.east.journal", 0, 10)
	waitMirror(ctx, t, wjs, "ZKDR_east", 10)

	// The hub reaches the leaf's domain too.
	if _, err := eastToWest.Stream(ctx, "ZKDR_east"); err != nil {
		t.Fatalf("west mirror via west domain from east: %v", err)
	}

	// Mirrors work in the other direction, into the hub's domain (after a
	// switchover west is the origin).
	if _, err := wjs.CreateStream(ctx, jetstream.StreamConfig{Name: "ZKDR_west", Subjects: []string{"zkdr.west.journal"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, mirrorConfig("ZKDR_west", "west")); err != nil {
		t.Fatalf("create mirror of west on east: %v", err)
	}
	publishN(ctx, t, wjs, "zkdr.west.journal", 0, 10)
	waitMirror(ctx, t, ejs, "ZKDR_west", 10)

	// Plain subjects are shared across the link: a publish on the west side to
	// east's journal subject is stored, and acknowledged, by east's stream. So each
	// site's stream needs subjects of its own.
	ack, err := wjs.Publish(ctx, "zkdr.east.journal", []byte("from west"))
	if err != nil {
		t.Fatalf("publish from west to east's subject: %v", err)
	}
	if ack.Stream != "ZKDR_east" || ack.Domain != "east" || ack.Sequence != 11 {
		t.Fatalf("ack %+v, want ZKDR_east seq 11 in domain east", ack)
	}
	waitMirror(ctx, t, wjs, "ZKDR_east", 11)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
