package ratelog

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config tunes the rate limiting.
type Config struct {
	// Window is how long repeats of a message are counted instead of logged.
	Window time.Duration
	// Now and AfterFunc are the clock; tests replace them.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// DefaultConfig returns a 10 s window.
func DefaultConfig() Config {
	return Config{
		Window: 10 * time.Second,
		Now:    time.Now,
		AfterFunc: func(d time.Duration, f func()) func() bool {
			return time.AfterFunc(d, f).Stop
		},
	}
}

// Logger is an hclog.Logger that rate-limits repeated messages. Loggers made
// from it with With and Named share its counts.
type Logger struct {
	hclog.Logger // the wrapped logger, for everything not rate-limited
	s            *state
}

var _ hclog.Logger = (*Logger)(nil)

// state is what a Logger and its derived loggers share.
type state struct {
	cfg       Config
	mu        sync.Mutex
	seen      map[string]*entry
	lastSweep time.Time
}

// entry is one message's current window.
type entry struct {
	log      hclog.Logger // the logger the repeats came through
	level    hclog.Level
	msg      string
	start    time.Time
	repeats  int
	lastArgs []any
	stop     func() bool // the pending summary, nil when none
}

// Limited is how a component that repeats itself in a retry loop takes its
// logger: inner itself when it is already rate-limited (the process logger of
// `zkdr run` is), so a line is never counted twice, otherwise inner wrapped with
// the default window.
func Limited(inner hclog.Logger) *Logger {
	if l, ok := inner.(*Logger); ok {
		return l
	}
	return New(inner, DefaultConfig())
}

// New wraps inner. It starts nothing: a summary is written by a timer armed
// at the first repeat of a window.
func New(inner hclog.Logger, cfg Config) *Logger {
	def := DefaultConfig()
	if cfg.Window <= 0 {
		cfg.Window = def.Window
	}
	if cfg.Now == nil {
		cfg.Now = def.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = def.AfterFunc
	}
	return &Logger{Logger: inner, s: &state{cfg: cfg, seen: map[string]*entry{}}}
}

// Log logs msg at level unless it repeats a message logged within the window.
func (l *Logger) Log(level hclog.Level, msg string, args ...any) { l.log(level, msg, args) }

// Trace is Log at trace level.
func (l *Logger) Trace(msg string, args ...any) { l.log(hclog.Trace, msg, args) }

// Debug is Log at debug level.
func (l *Logger) Debug(msg string, args ...any) { l.log(hclog.Debug, msg, args) }

// Info is Log at info level.
func (l *Logger) Info(msg string, args ...any) { l.log(hclog.Info, msg, args) }

// Warn is Log at warn level.
func (l *Logger) Warn(msg string, args ...any) { l.log(hclog.Warn, msg, args) }

// Error is Log at error level.
func (l *Logger) Error(msg string, args ...any) { l.log(hclog.Error, msg, args) }

// With returns a rate-limited logger with implied args, sharing l's counts.
func (l *Logger) With(args ...any) hclog.Logger {
	return &Logger{Logger: l.Logger.With(args...), s: l.s}
}

// Named returns a rate-limited sub-logger, sharing l's counts.
func (l *Logger) Named(name string) hclog.Logger {
	return &Logger{Logger: l.Logger.Named(name), s: l.s}
}

// ResetNamed returns a rate-limited logger with the name replaced, sharing
// l's counts.
func (l *Logger) ResetNamed(name string) hclog.Logger {
	return &Logger{Logger: l.Logger.ResetNamed(name), s: l.s}
}

// Flush writes the summaries of every window with repeats now, for a process
// about to exit.
func (l *Logger) Flush() {
	s := l.s
	s.mu.Lock()
	var out []*entry
	for k, e := range s.seen {
		if e.repeats > 0 {
			if e.stop != nil {
				e.stop()
			}
			out = append(out, &entry{log: e.log, level: e.level, msg: e.msg, repeats: e.repeats, lastArgs: e.lastArgs})
		}
		delete(s.seen, k)
	}
	s.mu.Unlock()
	for _, e := range out {
		s.summarize(e)
	}
}

func (l *Logger) log(level hclog.Level, msg string, args []any) {
	if level < l.Logger.GetLevel() {
		return // not written anyway: not worth counting
	}
	s := l.s
	key := l.key(level, msg, args)
	now := s.cfg.Now()
	s.mu.Lock()
	s.sweep(now)
	e, ok := s.seen[key]
	if !ok || now.Sub(e.start) >= s.cfg.Window && e.repeats == 0 {
		s.seen[key] = &entry{log: l.Logger, level: level, msg: msg, start: now}
		s.mu.Unlock()
		l.Logger.Log(level, msg, args...)
		return
	}
	e.repeats++
	e.log, e.lastArgs = l.Logger, args
	if e.stop == nil {
		e.stop = s.cfg.AfterFunc(max(0, e.start.Add(s.cfg.Window).Sub(now)), func() { s.windowEnd(key, e) })
	}
	s.mu.Unlock()
}

// windowEnd writes e's summary and starts its next window, so a steady flood
// gives one summary per window and nothing else.
func (s *state) windowEnd(key string, e *entry) {
	s.mu.Lock()
	if s.seen[key] != e || e.repeats == 0 {
		s.mu.Unlock()
		return // flushed meanwhile
	}
	sum := &entry{log: e.log, level: e.level, msg: e.msg, repeats: e.repeats, lastArgs: e.lastArgs}
	e.start, e.repeats, e.lastArgs, e.stop = s.cfg.Now(), 0, nil, nil
	s.mu.Unlock()
	s.summarize(sum)
}

func (s *state) summarize(e *entry) {
	times := "times"
	if e.repeats == 1 {
		times = "time"
	}
	e.log.Log(e.level, fmt.Sprintf("%s (repeated %d %s in %s)", e.msg, e.repeats, times, s.cfg.Window), e.lastArgs...)
}

// sweep forgets messages whose window ended without repeats, at most once a
// window, so one-off messages (a path per line) do not pile up. Caller holds
// s.mu.
func (s *state) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < s.cfg.Window {
		return
	}
	s.lastSweep = now
	for k, e := range s.seen {
		if e.repeats == 0 && now.Sub(e.start) >= s.cfg.Window {
			delete(s.seen, k)
		}
	}
}

// key identifies a message: logger name, level, message, and every argument
// (its own or implied by With) except numbers, durations and times. A line on
// another path, step or site, or with another error, is news; the same line
// with another attempt count, sequence or elapsed time is a repeat.
func (l *Logger) key(level hclog.Level, msg string, args []any) string {
	var b strings.Builder
	b.WriteString(l.Logger.Name())
	b.WriteByte(0)
	b.WriteString(level.String())
	b.WriteByte(0)
	b.WriteString(msg)
	for _, kv := range [][]any{l.Logger.ImpliedArgs(), args} {
		for i := 0; i+1 < len(kv); i += 2 {
			if identifying(kv[i+1]) {
				fmt.Fprintf(&b, "\x00%v=%v", kv[i], kv[i+1])
			}
		}
	}
	return b.String()
}

// identifying reports whether an argument value tells two lines apart:
// counters, sizes, sequences, zxids, durations and timestamps do not.
func identifying(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64, time.Duration, time.Time:
		return false
	}
	return true
}
