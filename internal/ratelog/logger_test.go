package ratelog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// clock is a hand-moved clock whose timers fire when the test says.
type clock struct {
	now    time.Time
	timers []*timer
}

type timer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *clock) Now() time.Time { return c.now }

func (c *clock) AfterFunc(d time.Duration, f func()) func() bool {
	t := &timer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool { was := !t.stopped; t.stopped = true; return was }
}

// advance moves the clock and fires the timers due.
func (c *clock) advance(d time.Duration) {
	c.now = c.now.Add(d)
	due := c.timers[:0:0]
	var rest []*timer
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			due = append(due, t)
		} else if !t.stopped {
			rest = append(rest, t)
		}
	}
	c.timers = rest
	for _, t := range due {
		t.f()
	}
}

func newTest(jsonFormat bool) (*Logger, *clock, *bytes.Buffer) {
	var buf bytes.Buffer
	inner := hclog.New(&hclog.LoggerOptions{Name: "zkdr", Level: hclog.Info, Output: &buf, JSONFormat: jsonFormat,
		TimeFn: func() time.Time { return time.Unix(0, 0) }})
	c := &clock{now: time.Unix(1000, 0)}
	cfg := DefaultConfig()
	cfg.Now, cfg.AfterFunc = c.Now, c.AfterFunc
	return New(inner, cfg), c, &buf
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimRight(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestRepeatsBecomeOneLine: a message repeated within the window is written
// once, then once more as a count when the window ends; a steady flood gives
// one summary per window.
func TestRepeatsBecomeOneLine(t *testing.T) {
	l, c, buf := newTest(false)
	log := l.Named("applier")
	for range 50 {
		log.Warn("ensemble unreachable, retrying", "error", errors.New("connection refused"))
		c.advance(100 * time.Millisecond) // 5 s in all
	}
	if got := lines(buf); len(got) != 1 || !strings.Contains(got[0], "[WARN]  zkdr.applier: ensemble unreachable, retrying: error=\"connection refused\"") {
		t.Fatalf("inside the window: %q", got)
	}
	c.advance(5 * time.Second) // the window ends
	got := lines(buf)
	if len(got) != 2 || !strings.Contains(got[1], "ensemble unreachable, retrying (repeated 49 times in 10s): error=\"connection refused\"") {
		t.Fatalf("after the window: %q", got)
	}
	// The flood goes on: the next window is counted from the summary.
	for range 100 {
		log.Warn("ensemble unreachable, retrying", "error", errors.New("connection refused"))
		c.advance(100 * time.Millisecond)
	}
	got = lines(buf)
	if len(got) != 3 || !strings.Contains(got[2], "(repeated 100 times in 10s)") {
		t.Fatalf("second window: %q", got)
	}
	// Quiet for a window: the next occurrence is news again.
	c.advance(20 * time.Second)
	log.Warn("ensemble unreachable, retrying", "error", errors.New("connection refused"))
	if got = lines(buf); len(got) != 4 || strings.Contains(got[3], "repeated") {
		t.Fatalf("after a quiet window: %q", got)
	}
}

// TestDistinctMessagesPass: another level, message, logger name or string
// argument (a path, a step, an error) is a different line; another number is
// not.
func TestDistinctMessagesPass(t *testing.T) {
	l, c, buf := newTest(false)
	l.Warn("write refused", "zk-path", "/a", "seq", 1)
	l.Warn("write refused", "zk-path", "/a", "seq", 2) // same but for seq: a repeat
	l.Warn("write refused", "zk-path", "/b", "seq", 3)
	l.Error("write refused", "zk-path", "/a")
	l.Named("source").Warn("write refused", "zk-path", "/a")
	l.With("stream", "ZKDR_west").Warn("write refused", "zk-path", "/a")
	l.Warn("write refused", "zk-path", "/a", "error", "no auth")
	l.Warn("other message")
	l.Info("step done", "step", "fence", "took", time.Second)
	l.Info("step done", "step", "flush", "took", time.Second)
	l.Debug("below the level") // never written, never counted
	l.Debug("below the level")
	if got := lines(buf); len(got) != 9 {
		t.Fatalf("want 9 lines, got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
	c.advance(10 * time.Second)
	got := lines(buf)
	if len(got) != 10 || !strings.Contains(got[9], "write refused (repeated 1 time in 10s): zk-path=/a seq=2") {
		t.Fatalf("summary: %q", got)
	}
}

// TestJSONAndFlush: the summary is an ordinary JSON record, and Flush writes
// pending summaries at once (for a process about to exit).
func TestJSONAndFlush(t *testing.T) {
	l, c, buf := newTest(true)
	for range 3 {
		l.Info("batch applied slowly", "zk-path", "/x")
	}
	l.Flush()
	got := lines(buf)
	if len(got) != 2 {
		t.Fatalf("want 2 lines, got %q", got)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(got[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["@message"] != "batch applied slowly (repeated 2 times in 10s)" || rec["zk-path"] != "/x" || rec["@level"] != "info" {
		t.Fatalf("summary record: %v", rec)
	}
	c.advance(time.Minute) // the flushed window's timer writes nothing more
	if got := lines(buf); len(got) != 2 {
		t.Fatalf("after flush: %q", got)
	}
}

func TestLimitedDoesNotWrapTwice(t *testing.T) {
	inner := hclog.NewNullLogger()
	l := Limited(inner)
	if l.Logger != inner {
		t.Fatalf("Limited of a plain logger does not wrap it")
	}
	if again := Limited(l); again != l {
		t.Fatalf("Limited of a rate-limited logger wrapped it again")
	}
}
