package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// DefaultInterval is how often a plain (non-terminal) reporter writes a line.
const DefaultInterval = 5 * time.Second

// Reporter reports the progress of one operation. All methods are safe for
// concurrent use and on a nil *Reporter, which behaves like Disabled().
type Reporter struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool                     // draw a bar instead of plain lines
	bar      *progressbar.ProgressBar // the bar, once there is something to draw
	what     string
	unit     string
	total    int64
	n        int64
	base     int64 // count at the first update: the rate counts progress made while we watched
	seen     bool  // base is set
	start    time.Time
	lastLine time.Time
	now      func() time.Time
	interval time.Duration
	finished bool
}

// New returns a reporter writing to w: an animated bar when w is a terminal,
// otherwise one plain line every few seconds and one at Finish, such as
// "replay: 51234/100000 nodes, 8123/s, eta 6s". total <= 0 means unknown: a
// counter with a rate and no ETA. A nil w gives a disabled reporter.
func New(w io.Writer, what string, total int64, unit string) *Reporter {
	if w == nil {
		return Disabled()
	}
	r := newPlain(w, what, total, unit, time.Now, DefaultInterval)
	r.terminal = IsTerminal(w)
	return r
}

// NewPlain returns a reporter that writes plain lines to w whatever w is,
// taking the time from now and writing at most one line per interval (plus
// the one at Finish). Tests use it to get deterministic output.
func NewPlain(w io.Writer, what string, total int64, unit string, now func() time.Time, interval time.Duration) *Reporter {
	if w == nil {
		return Disabled()
	}
	if now == nil {
		now = time.Now
	}
	return newPlain(w, what, total, unit, now, interval)
}

// Disabled returns a reporter that prints nothing (for --quiet and tests).
func Disabled() *Reporter { return nil }

func newPlain(w io.Writer, what string, total int64, unit string, now func() time.Time, interval time.Duration) *Reporter {
	t := now()
	return &Reporter{
		w:        w,
		what:     what,
		unit:     unit,
		total:    max(total, 0),
		start:    t,
		lastLine: t,
		now:      now,
		interval: interval,
	}
}

// newBar starts a bar for the progress still to come: the count from the
// first update (base) to the total. The library takes its rate from the
// increments it sees, so feeding it an absolute position such as a sequence
// number would show a burst of millions per second. Caller holds r.mu.
func (r *Reporter) newBar() {
	limit := int64(-1) // the library's spinner for an unknown length
	if r.total > 0 {
		limit = r.total - r.base
		if limit <= 0 {
			return // nothing left to show; Finish says where it ended
		}
	}
	r.bar = progressbar.NewOptions64(limit,
		progressbar.OptionSetWriter(r.w),
		progressbar.OptionSetDescription(r.what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(r.unit),
		progressbar.OptionSetPredictTime(r.total > 0),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
		// No spinner goroutine: it would outlive Finish (it stops only at a
		// full bar) and keep drawing over the next output.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
	if r.n > r.base {
		_ = r.bar.Set64(r.n - r.base)
	}
}

// dropBar clears the bar from the line. Caller holds r.mu.
func (r *Reporter) dropBar() {
	if r.bar == nil {
		return
	}
	_ = r.bar.Exit()
	_ = r.bar.Clear()
	r.bar = nil
}

// IsTerminal reports whether w is a terminal; only an *os.File can be one.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Add adds n to the count.
func (r *Reporter) Add(n int64) { r.locked(func() { r.update(r.n+n, false) }) }

// Set sets the count, for callers that poll an absolute position such as an
// applied sequence.
func (r *Reporter) Set(n int64) { r.locked(func() { r.update(n, true) }) }

// SetTotal changes the total; n <= 0 makes it unknown.
func (r *Reporter) SetTotal(n int64) { r.locked(func() { r.setTotal(max(n, 0)) }) }

// Describe changes the name of the operation shown at the start of each line.
func (r *Reporter) Describe(what string) {
	r.locked(func() {
		r.what = what
		if r.bar != nil {
			r.bar.Describe(what)
		}
	})
}

// Finish writes the final line with the count, the rate and the elapsed time.
// Later calls do nothing.
func (r *Reporter) Finish() {
	r.locked(func() {
		r.finished = true
		// Clear the bar rather than filling it: a drain that gave up must not
		// end on a full bar. The summary line below says where it stopped.
		r.dropBar()
		elapsed := r.now().Sub(r.start)
		fmt.Fprintf(r.w, "%s: %s in %s, %s\n", r.what, r.count(), roundDuration(elapsed), r.rate(elapsed))
	})
}

// WriteAbove writes p (a log line) to w, which shares the terminal with the
// bar: the bar is cleared first and drawn again at the next update, so the
// line does not start after the bar's text. Without a bar it is w.Write(p).
func (r *Reporter) WriteAbove(w io.Writer, p []byte) (int, error) {
	if r == nil {
		return w.Write(p)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		_ = r.bar.Clear()
	}
	return w.Write(p)
}

// locked runs f under r.mu unless r is nil or finished.
func (r *Reporter) locked(f func()) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.finished {
		f()
	}
}

// setTotal changes the total. Caller holds r.mu.
func (r *Reporter) setTotal(n int64) {
	old := r.total
	r.total = n
	if r.bar == nil || old == r.total {
		return
	}
	if old > 0 && r.total > r.base {
		r.bar.ChangeMax64(r.total - r.base)
		return
	}
	// Between known and unknown the library keeps a spinner position as the
	// count; start a new bar instead.
	r.dropBar()
	r.newBar()
}

// update records the count n; absolute says it came from Set. Caller holds r.mu.
func (r *Reporter) update(n int64, absolute bool) {
	if !r.seen {
		r.seen = true
		if absolute {
			// A first Set to an absolute position (a sequence number) is where
			// we started watching, not progress made since.
			r.base = n
		}
	}
	r.n = n
	if r.terminal {
		if r.bar == nil {
			r.newBar()
		} else {
			_ = r.bar.Set64(n - r.base)
		}
		return
	}
	t := r.now()
	if r.interval > 0 && t.Sub(r.lastLine) < r.interval {
		return
	}
	r.lastLine = t
	elapsed := t.Sub(r.start)
	line := fmt.Sprintf("%s: %s, %s", r.what, r.count(), r.rate(elapsed))
	if eta, ok := r.eta(elapsed); ok {
		line += ", eta " + roundDuration(eta).String()
	}
	fmt.Fprintln(r.w, line)
}

// count is "51234/100000 nodes" or "51234 nodes" when the total is unknown.
func (r *Reporter) count() string {
	s := fmt.Sprintf("%d", r.n)
	if r.total > 0 {
		s += fmt.Sprintf("/%d", r.total)
	}
	if r.unit != "" {
		s += " " + r.unit
	}
	return s
}

func (r *Reporter) perSecond(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(r.n-r.base) / elapsed.Seconds()
}

func (r *Reporter) rate(elapsed time.Duration) string {
	return fmt.Sprintf("%.0f/s", r.perSecond(elapsed))
}

func (r *Reporter) eta(elapsed time.Duration) (time.Duration, bool) {
	ps := r.perSecond(elapsed)
	if r.total <= 0 || ps <= 0 || r.n >= r.total {
		return 0, false
	}
	return time.Duration(float64(r.total-r.n) / ps * float64(time.Second)), true
}

// roundDuration keeps durations short on a progress line: whole seconds, or
// tenths below ten seconds.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
