package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkdr/zkdr/replicator/source"
)

// An active ensemble that refuses persistent watches stands in for ZooKeeper
// before 3.6 (which answers addWatch with UNIMPLEMENTED; Debian ships 3.8
// only): a server whose watch manager is WatchManagerOptimized refuses them
// the same way. With the default source.watch ("auto") the source replicates
// on one-shot watches, and says which kind it runs on.
func TestActiveEnsembleWithoutRecursiveWatch(t *testing.T) {
	p := newPair(t, withZKProps(map[string]string{
		"zookeeper.watchManagerName": "org.apache.zookeeper.server.watch.WatchManagerOptimized",
	}))
	east := p.conn["east"]
	mustCreate(t, east, "/old", []byte("v"), 0, nil)
	for i := range 50 {
		mustCreate(t, east, fmt.Sprintf("/old/n%02d", i), []byte("x"), 0, nil)
	}
	ed := p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)
	st := ed.d.Status()
	if st.Source == nil || st.Source.Watch != source.WatchOneShot {
		t.Fatalf("east's source status %+v, want it on one-shot watches", st.Source)
	}
	// Changes made after the bootstrap arrive too.
	for i := range 10 {
		if _, err := east.Set(fmt.Sprintf("/old/n%02d", i), []byte("y"), -1); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, east, "/old/late", []byte("z"), 0, nil)
	p.waitConverged(2 * time.Minute)
}
