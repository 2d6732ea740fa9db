package e2e

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover/site"
)

// Two daemons per site elect one leader; kill -9 of the leader during writes:
// the other takes over and the trees converge.
func TestHALeaderKilled(t *testing.T) {
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.HA.Election = true
		c.ZooKeeper.SessionTimeout = 4 * time.Second // a dead leader's election node goes after this
	}))
	east := p.conn["east"]
	mustCreate(t, east, "/ha", nil, 0, nil)
	a := p.startProcess("east")
	b := p.startProcess("east")
	p.startProcess("west")
	p.waitConverged(2 * time.Minute)

	leaderPID := func() int {
		kids, _, err := east.Children(site.ElectionPath)
		if err != nil || len(kids) == 0 {
			return 0
		}
		sort.Slice(kids, func(i, j int) bool { return seq(kids[i]) < seq(kids[j]) })
		data, _, err := east.Get(path.Join(site.ElectionPath, kids[0]))
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(string(data[strings.LastIndex(string(data), "/")+1:]))
		return pid
	}
	var leader, other *daemon
	waitFor(t, time.Minute, "an elected leader", func() bool {
		switch leaderPID() {
		case a.pid:
			leader, other = a, b
		case b.pid:
			leader, other = b, a
		}
		return leader != nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- mixedWorkload(ctx, east, "/ha", 3) }()
	time.Sleep(time.Second) // let writes go on while the leader dies; correctness does not depend on it
	leader.kill()
	waitFor(t, 2*time.Minute, "the other daemon to lead", func() bool { return leaderPID() == other.pid })
	for i := 0; i < 50; i++ {
		mustCreate(t, east, fmt.Sprintf("/ha/after-%02d", i), []byte("x"), 0, nil)
	}
	cancel()
	t.Logf("mixed workload: %d operations across the leader's death", <-done)
	p.waitConverged(3 * time.Minute)
	assertContiguous(t, p.nats["east"].ClientURL(), "ZKDR_east")
}

func seq(name string) string { return name[strings.LastIndex(name, "n-")+2:] }
