package workload

import (
	"path"
	"strings"
	"testing"
	"time"
)

// Populate builds about Size znodes with every shape the applications make:
// ephemerals of several sessions, persistent and ephemeral sequentials, and
// state.json of tens of kilobytes.
func TestPopulateBuildsEveryShape(t *testing.T) {
	zks := startZK(t)
	w := newWorkload(t, zks, nil)
	if err := w.Populate(testContext(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, zks)
	tr := walk(t, conn, "/app", true)
	n := len(tr) - 1 // not /app itself
	t.Logf("populated %d znodes (size %d)", n, w.cfg.Size)
	if lo, hi := w.cfg.Size*95/100, w.cfg.Size*105/100; n < lo || n > hi {
		t.Fatalf("populated %d znodes, want %d..%d", n, lo, hi)
	}

	count := map[string]int{}
	owners := map[int64]bool{}
	for p, node := range tr {
		base := path.Base(p)
		dir := path.Dir(p)
		eph := node.EphemeralOwner != 0
		if eph {
			owners[node.EphemeralOwner] = true
		}
		switch {
		case strings.HasPrefix(p, "/brokers/ids/") && eph:
			count["broker registration"]++
		case p == "/controller" && eph:
			count["controller"]++
		case strings.HasSuffix(p, "/state") && strings.Contains(p, "/partitions/"):
			count["partition state"]++
		case strings.HasPrefix(p, "/config/changes/config_change_"):
			count["config change (persistent sequential)"]++
		case strings.HasPrefix(p, "/locks/") && strings.HasPrefix(base, "_c_") && strings.Contains(base, "-lock-") && eph:
			count["lock node (ephemeral sequential)"]++
		case strings.HasPrefix(p, "/queues/") && strings.HasPrefix(base, "qn-") && !eph:
			count["queue item (persistent sequential)"]++
		case strings.HasPrefix(dir, "/services/") && eph:
			count["service instance (ephemeral)"]++
		case strings.HasPrefix(p, "/overseer/queue/qn-"):
			count["overseer item"]++
		case base == "state.json" && strings.HasPrefix(p, "/collections/"):
			if node.Size < w.cfg.StateMin*9/10 || node.Size > w.cfg.StateMax*11/10 {
				t.Errorf("%s holds %d bytes, want about %d..%d", p, node.Size, w.cfg.StateMin, w.cfg.StateMax)
			}
			count["state.json"]++
		}
	}
	want := map[string]int{
		"broker registration": w.cfg.Brokers, "controller": 1, "state.json": w.cfg.Collections,
		"partition state": 100, "config change (persistent sequential)": 5, "lock node (ephemeral sequential)": 20,
		"queue item (persistent sequential)": 100, "service instance (ephemeral)": 50, "overseer item": 10,
	}
	for shape, atLeast := range want {
		if count[shape] < atLeast {
			t.Errorf("%d of %s, want at least %d", count[shape], shape, atLeast)
		}
	}
	t.Logf("shapes: %v", count)
	// The broker, lock client and service host sessions each own some.
	if len(owners) < w.cfg.Brokers+2 {
		t.Errorf("ephemerals belong to %d sessions, want at least %d", len(owners), w.cfg.Brokers+2)
	}
}
