package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// expectLines fails t unless buf holds exactly want, one line each.
func expectLines(t *testing.T, buf *bytes.Buffer, want ...string) {
	t.Helper()
	got := strings.TrimRight(buf.String(), "\n")
	if got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

func TestPlainKnownTotal(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewPlain(&buf, "replay", 100000, "nodes", clk.now, 5*time.Second)

	clk.advance(time.Second)
	r.Add(8000)          // inside the interval: no line yet
	expectLines(t, &buf) // none yet
	clk.advance(4 * time.Second)
	r.Add(32000)
	clk.advance(time.Second)
	r.Add(1000) // one second after the last line: none
	clk.advance(4 * time.Second)
	r.Set(60000)
	clk.advance(2 * time.Second)
	r.Finish()
	r.Finish() // a second Finish writes nothing
	r.Add(5)   // nor does an update after it

	expectLines(t, &buf,
		"replay: 40000/100000 nodes, 8000/s, eta 7.5s",
		"replay: 60000/100000 nodes, 6000/s, eta 6.7s",
		"replay: 60000/100000 nodes in 12s, 5000/s",
	)
}

func TestPlainUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewPlain(&buf, "bootstrap", 0, "nodes", clk.now, 5*time.Second)
	clk.advance(5 * time.Second)
	r.Add(500)
	r.Describe("bootstrap walk")
	clk.advance(5 * time.Second)
	r.Add(1500)
	r.Finish()
	expectLines(t, &buf,
		"bootstrap: 500 nodes, 100/s",
		"bootstrap walk: 2000 nodes, 200/s",
		"bootstrap walk: 2000 nodes in 10s, 200/s",
	)
}

// TestPlainAbsolutePosition: a drain polls the applied sequence. The rate is
// the progress made while watching, not the sequence divided by the time.
func TestPlainAbsolutePosition(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewPlain(&buf, "drain", 0, "events", clk.now, 5*time.Second)
	r.Set(50000) // first poll: where the standby was
	r.SetTotal(51000)
	clk.advance(5 * time.Second)
	r.Set(50500)
	clk.advance(5 * time.Second)
	r.Set(51000)
	r.Finish()
	expectLines(t, &buf,
		"drain: 50500/51000 events, 100/s, eta 5s",
		"drain: 51000/51000 events, 100/s",
		"drain: 51000/51000 events in 10s, 100/s",
	)
}

func TestDisabledAndNonTerminal(t *testing.T) {
	r := Disabled()
	r.Add(1)
	r.Set(2)
	r.SetTotal(3)
	r.Describe("x")
	r.Finish()

	// A buffer is not a terminal: New writes plain lines, never bar escapes.
	var buf bytes.Buffer
	p := New(&buf, "verify", 10, "nodes")
	p.Add(10)
	p.Finish()
	out := buf.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("non-terminal output has bar control characters: %q", out)
	}
	if !strings.HasPrefix(out, "verify: 10/10 nodes in ") {
		t.Fatalf("final line: %q", out)
	}
}
