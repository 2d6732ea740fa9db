package eventually

import (
	"time"
)

// TB is the part of testing.TB the waits use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Interval is how often a condition is polled.
const Interval = 50 * time.Millisecond

// Holds polls cond until it is true, and reports whether it was before timeout.
func Holds(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(Interval)
	}
	return true
}

// True polls cond until it is true; the test fails, naming what it waited for,
// if timeout passes first.
func True(t TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Holds(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// NoError polls cond until it returns nil; the test fails with the last error
// if timeout passes first.
func NoError(t TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	var err error
	if !Holds(timeout, func() bool { err = cond(); return err == nil }) {
		t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
	}
}
