package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/journal"
)

// Guarantee 5: a second source for the same site cannot interleave appends with
// the first; one of them is fenced, says so and appends nothing more.
func TestSecondSourceIsFenced(t *testing.T) {
	p := newPair(t)
	east := p.conn["east"]
	mustCreate(t, east, "/fence", nil, 0, nil)
	first := p.start("east")
	p.start("west")
	p.waitConverged(2 * time.Minute)

	// A second daemon for east, as an operator starting a copy by mistake would.
	second := p.start("east")
	for i := 0; i < 200; i++ {
		mustCreate(t, east, fmt.Sprintf("/fence/n%03d", i), []byte("x"), 0, nil)
	}
	fenced := func(d *daemon) bool {
		return strings.Contains(d.d.Status().LastErr, "fenced")
	}
	waitFor(t, 2*time.Minute, "one of the two sources to be fenced", func() bool { return fenced(first) || fenced(second) })
	if fenced(first) && fenced(second) {
		t.Fatal("both sources were fenced")
	}
	p.waitConverged(2 * time.Minute)

	// The journal shows the writers one after the other, never interleaved.
	var writers []string
	readJournal(t, p.nats["east"].ClientURL(), journal.StreamName("east"), func(m journal.Message) {
		if len(writers) == 0 || writers[len(writers)-1] != m.Writer {
			writers = append(writers, m.Writer)
		}
	})
	seen := map[string]bool{}
	for _, w := range writers {
		if seen[w] {
			t.Fatalf("writers interleaved in the journal: %v", writers)
		}
		seen[w] = true
	}
	t.Logf("journal writer runs: %v; fenced: first %v, second %v (%s)", writers, fenced(first), fenced(second),
		first.d.Status().LastErr+second.d.Status().LastErr)
}
