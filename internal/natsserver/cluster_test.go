package natsserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/internal/eventually"
)

// TestClusterHubWithLeaf is the layout of a production site with a replicated
// journal: a three-server JetStream cluster in domain east, whose R3 stream a
// single west server in its own domain mirrors over one leafnode remote that
// lists every east server. Stopping the stream's leader loses no acknowledged
// message; publishing goes on through the other servers, the mirror keeps the
// origin's sequences, and the stopped server rejoins and catches up.
func TestClusterHubWithLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four NATS servers")
	}
	east := StartClusterT(t, ClusterConfig{Server: Config{Site: "east", SyncAlways: true}})
	remote := east.LeafRemote()
	if len(remote.URLs) != 3 || len(east.LeafURLs()) != 3 {
		t.Fatalf("leaf remote %v", remote.URLs)
	}
	west := StartT(t, Config{Site: "west", LeafPort: NoLeafListener, LeafReconnect: 250 * time.Millisecond,
		Configure: func(o *server.Options) { o.LeafNode.Remotes = []*server.RemoteLeafOpts{remote} }})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := west.WaitDomain(ctx, "east"); err != nil {
		t.Fatal(err)
	}

	enc, err := nats.Connect(joinURLs(east.ClientURLs()), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(enc.Close)
	ejs, err := jetstream.New(enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ejs.CreateStream(ctx, jetstream.StreamConfig{Name: "ZKDR_east", Subjects: []string{"zkdr.east.ev"},
		Storage: jetstream.FileStorage, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	wjs, err := jetstream.New(connect(t, west))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wjs.CreateStream(ctx, mirrorConfig("ZKDR_east", "east")); err != nil {
		t.Fatalf("mirror of a clustered stream: %v", err)
	}
	publishDedup(ctx, t, ejs, "zkdr.east.ev", 0, 100)
	waitMirror(ctx, t, wjs, "ZKDR_east", 100)

	leader := east.StreamLeader("ZKDR_east")
	if leader < 0 {
		t.Fatal("no stream leader")
	}
	t.Logf("stopping %s, the stream's leader", east.Server(leader).NATS().Name())
	east.Stop(leader)
	publishDedup(ctx, t, ejs, "zkdr.east.ev", 100, 100)
	eventually.NoError(t, time.Minute, "a new stream leader", func() error {
		if l := east.StreamLeader("ZKDR_east"); l < 0 || l == leader {
			return fmt.Errorf("leader %d", l)
		}
		return nil
	})
	waitMirror(ctx, t, wjs, "ZKDR_east", 200)
	checkSequences(ctx, t, wjs, "ZKDR_east", 200)

	if err := east.Restart(leader); err != nil {
		t.Fatal(err)
	}
	if err := east.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	publishDedup(ctx, t, ejs, "zkdr.east.ev", 200, 100)
	waitMirror(ctx, t, wjs, "ZKDR_east", 300)
	// The restarted server holds every message too.
	rnc := connect(t, east.Server(leader))
	eventually.NoError(t, time.Minute, "the restarted server to catch up", func() error {
		if !east.Server(leader).NATS().JetStreamIsStreamCurrent(server.DEFAULT_GLOBAL_ACCOUNT, "ZKDR_east") {
			return fmt.Errorf("not current")
		}
		return nil
	})
	rjs, err := jetstream.New(rnc)
	if err != nil {
		t.Fatal(err)
	}
	checkSequences(ctx, t, rjs, "ZKDR_east", 300)
}

// publishDedup publishes msg-from..msg-(from+n-1), each with its own message
// id, retrying through a leader change; JetStream drops re-sent duplicates, so
// message i ends up at sequence i+1 exactly once.
func publishDedup(ctx context.Context, t *testing.T, js jetstream.JetStream, subj string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		data := fmt.Sprintf("msg-%d", i)
		eventually.NoError(t, time.Minute, "publish "+data, func() error {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			ack, err := js.Publish(pctx, subj, []byte(data), jetstream.WithMsgID(data))
			if err != nil {
				return err
			}
			if ack.Sequence != uint64(i+1) {
				t.Fatalf("%s stored at sequence %d", data, ack.Sequence)
			}
			return nil
		})
	}
}

func joinURLs(urls []string) string {
	out := ""
	for i, u := range urls {
		if i > 0 {
			out += ","
		}
		out += u
	}
	return out
}
