package configs_test

import (
	"testing"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
	"github.com/zkdr/zkdr/replicator/source"
)

// A setting left out of a config file means what the component it tunes does
// by default: each number lives in the component's DefaultConfig, and the
// config only passes it on.
func TestDefaultsAreTheComponents(t *testing.T) {
	parsed, err := configs.Parse([]byte(minimal), "min.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src := source.DefaultConfig()
	app := applier.DefaultConfig()
	jrn := journal.DefaultAppenderConfig("east")
	for name, c := range map[string]*configs.Config{"Default()": configs.Default(), "a minimal file": parsed} {
		for _, tc := range []struct {
			field     string
			got, want any
		}{
			{"zookeeper.session_timeout (source)", c.ZooKeeper.SessionTimeout, src.SessionTimeout},
			{"zookeeper.session_timeout (applier)", c.ZooKeeper.SessionTimeout, app.SessionTimeout},
			{"journal.max_batch_bytes", c.Journal.MaxBatchBytes, jrn.MaxBatchBytes},
			{"journal.linger", c.Journal.Linger, jrn.Linger},
			{"source.heartbeat_interval", c.Source.HeartbeatInterval, src.HeartbeatInterval},
			{"source.acl_recheck_interval", c.Source.ACLRecheckInterval, src.ACLRecheckInterval},
			{"source.snapshot_interval", c.Source.SnapshotInterval, src.SnapshotInterval},
			{"source.snapshot_every_events", c.Source.SnapshotEveryEvents, src.SnapshotEveryEvents},
			{"source.watch", c.Source.Watch, src.Watch},
			{"applier.max_batch_ops", c.Applier.MaxBatchOps, app.MaxBatchOps},
			{"applier.max_batch_bytes", c.Applier.MaxBatchBytes, app.MaxBatchBytes},
			{"applier.delete_guard_share", c.Applier.DeleteGuardShare, app.DeleteGuardShare},
			{"applier.delete_guard_min_nodes", c.Applier.DeleteGuardMinNodes, app.DeleteGuardMinNodes},
			{"applier.delete_guard_window", c.Applier.DeleteGuardWindow, app.DeleteGuardWindow},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: %s = %v, the component's default is %v", name, tc.field, tc.got, tc.want)
			}
		}
	}
}
