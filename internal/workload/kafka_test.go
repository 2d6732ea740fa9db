package workload

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/eventually"
)

// A topic of 100 partitions is 203 znodes (assignment, partitions, a znode
// and a state per partition, config); deleting it removes all of them in one
// go, the kind of ordinary delete the delete guard must let through.
func TestDeleteTopicRemovesItsSubtree(t *testing.T) {
	zks := startZK(t)
	w := newWorkload(t, zks, func(c *Config) { c.Size = 300 })
	ctx := testContext(t, 2*time.Minute)
	if err := w.Populate(ctx); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, zks)
	before := len(walk(t, conn, "/app", true))
	created, err := w.CreateTopic(ctx, "clicks", 100)
	if err != nil {
		t.Fatal(err)
	}
	if created != 203 {
		t.Errorf("CreateTopic made %d znodes, want 203", created)
	}
	if _, err := w.CreateTopic(ctx, "clicks", 3); !errors.Is(err, ErrTopicExists) {
		t.Errorf("creating it again: %v, want ErrTopicExists", err)
	}
	data, _, err := conn.Get("/app/brokers/topics/clicks/partitions/99/state")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("partition 99's state: %s", data)
	withTopic := len(walk(t, conn, "/app", true))
	if withTopic-before != 203 {
		t.Fatalf("the topic added %d znodes, want 203", withTopic-before)
	}

	deleted, err := w.DeleteTopic(ctx, "clicks")
	if err != nil {
		t.Fatal(err)
	}
	after := len(walk(t, conn, "/app", true))
	if deleted != 203 || withTopic-after != 203 {
		t.Fatalf("DeleteTopic reported %d deleted and the tree lost %d znodes, want 203 both", deleted, withTopic-after)
	}
	for _, p := range []string{"/app/brokers/topics/clicks", "/app/config/topics/clicks", "/app/admin/delete_topics/clicks"} {
		if ok, _, err := conn.Exists(p); err != nil || ok {
			t.Errorf("%s still there (%v) after the delete", p, err)
		}
	}
	if _, err := w.DeleteTopic(ctx, "clicks"); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("deleting it again: %v, want ErrUnknownTopic", err)
	}
	for _, name := range w.Topics() {
		if name == "clicks" {
			t.Error("the deleted topic is still among the workload's topics")
		}
	}
}

// A broker's restart closes its session: its registration goes and comes
// back under a new owner. The controller's restart moves /controller to the
// next broker with the next epoch.
func TestBrokerRestartReplacesItsEphemerals(t *testing.T) {
	zks := startZK(t)
	w := newWorkload(t, zks, func(c *Config) { c.Size = 300 })
	ctx := testContext(t, 2*time.Minute)
	if err := w.Populate(ctx); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, zks)
	owner := func(p string) int64 {
		ok, st, err := conn.Exists(p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return 0
		}
		if st.EphemeralOwner == 0 {
			t.Fatalf("%s is not an ephemeral", p)
		}
		return st.EphemeralOwner
	}
	controller := func() (id, epoch int) {
		data, _, err := conn.Get("/app/controller")
		if err != nil {
			t.Fatal(err)
		}
		var c controllerInfo
		mustUnmarshal(t, data, &c)
		e, _, err := conn.Get("/app/controller_epoch")
		if err != nil {
			t.Fatal(err)
		}
		epoch, _ = strconv.Atoi(string(e))
		return c.BrokerID, epoch
	}

	const b2 = "/app/brokers/ids/2"
	first := owner(b2)
	if first == 0 {
		t.Fatal("broker 2 is not registered")
	}
	if err := w.StopBroker(ctx, 2); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, "broker 2's registration to go", func() bool { return owner(b2) == 0 })
	if err := w.StartBroker(ctx, 2); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, "broker 2's registration to come back", func() bool { return owner(b2) != 0 })
	if again := owner(b2); again == first {
		t.Fatalf("broker 2 came back under the same session %#x", again)
	}

	id, epoch := controller()
	if id != 1 || epoch != 1 {
		t.Fatalf("controller %d at epoch %d, want broker 1 at epoch 1", id, epoch)
	}
	b1, ctl := owner("/app/brokers/ids/1"), owner("/app/controller")
	if err := w.RestartBroker(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := owner("/app/brokers/ids/1"); got == 0 || got == b1 {
		t.Errorf("broker 1's registration after its restart: owner %#x (before %#x)", got, b1)
	}
	if got := owner("/app/controller"); got == 0 || got == ctl {
		t.Errorf("/controller after the controller's restart: owner %#x (before %#x)", got, ctl)
	}
	if id, epoch := controller(); id != 2 || epoch != 2 {
		t.Errorf("after broker 1's restart: controller %d at epoch %d, want broker 2 at epoch 2", id, epoch)
	}
	if err := w.RestartBroker(ctx, 99); !errors.Is(err, ErrUnknownBroker) {
		t.Errorf("restart of broker 99: %v, want ErrUnknownBroker", err)
	}
}

// The ISR change rewrites a partition's state with the version it read.
func TestISRChangeRewritesTheState(t *testing.T) {
	s := partitionState{ControllerEpoch: 1, Leader: 1, Version: 1, ISR: []int{1, 2, 3}}
	shrunk := changeISR(s, args{shrink: true, replicas: []int{1, 2, 3}, epoch: 2})
	if fmt.Sprint(shrunk.ISR) != "[1 2]" || shrunk.Leader != 1 || shrunk.LeaderEpoch != 0 || shrunk.ControllerEpoch != 2 {
		t.Errorf("shrink: %+v", shrunk)
	}
	back := changeISR(shrunk, args{replicas: []int{1, 2, 3}, elect: true, epoch: 2})
	if fmt.Sprint(back.ISR) != "[1 2 3]" || back.Leader != 2 || back.LeaderEpoch != 1 {
		t.Errorf("expand and elect: %+v", back)
	}
	lost := changeISR(partitionState{Leader: 3, ISR: []int{3}}, args{replicas: []int{1, 2}})
	if lost.Leader != 1 || lost.LeaderEpoch != 1 {
		t.Errorf("leader outside the ISR: %+v", lost)
	}
}
