package eventually

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type fakeT struct{ failed string }

func (f *fakeT) Helper()                           {}
func (f *fakeT) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestTrueWaitsUntilTheConditionHolds(t *testing.T) {
	n := 0
	var f fakeT
	True(&f, time.Minute, "three polls", func() bool { n++; return n == 3 })
	if f.failed != "" || n != 3 {
		t.Fatalf("failed %q after %d polls", f.failed, n)
	}
}

func TestTrueFailsNamingWhatItWaitedFor(t *testing.T) {
	var f fakeT
	True(&f, 10*time.Millisecond, "the standby", func() bool { return false })
	if f.failed != "timed out after 10ms waiting for the standby" {
		t.Fatalf("failure %q", f.failed)
	}
}

func TestNoErrorReportsTheLastError(t *testing.T) {
	var f fakeT
	NoError(&f, 10*time.Millisecond, "a link", func() error { return errors.New("refused") })
	if f.failed != "timed out after 10ms waiting for a link: refused" {
		t.Fatalf("failure %q", f.failed)
	}
}
