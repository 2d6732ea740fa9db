package failover

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator"
)

// A role stopped by a fence is not run again (it would fence the other writer
// back); other failures are retried.
func TestIsPermanent(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("apply: %w", replicator.ErrApplierFenced),
		fmt.Errorf("append: %w", journal.ErrFenced),
	} {
		if !isPermanent(err) {
			t.Errorf("%v: retried, want the role to stay stopped", err)
		}
	}
	if isPermanent(errors.New("zk: connection closed")) {
		t.Error("a lost connection is permanent, want a retry")
	}
}
