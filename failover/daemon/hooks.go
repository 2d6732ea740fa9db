package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/failover/site"
)

// HooksConfig configures the commands run on every role change, for clients
// that cannot use HostProvider (update DNS, a service registry, a load balancer).
type HooksConfig struct {
	// Commands are argv lists run one after the other, each with ZKDR_SITE,
	// ZKDR_ROLE, ZKDR_EPOCH and ZKDR_CONNECT added to zkdr's environment. Use
	// {"/bin/sh", "-c", "..."} for a shell line.
	Commands [][]string
	// Timeout bounds each command; the command and everything it started are
	// killed when it passes.
	Timeout time.Duration
	// ConnectFile, if set, is rewritten atomically with the active site's
	// connect string (and a newline) on every role change that names one.
	ConnectFile string
	Logger      hclog.Logger
}

// DefaultHooksConfig returns a config with no hooks and a 30 s timeout.
func DefaultHooksConfig() HooksConfig {
	return HooksConfig{Timeout: 30 * time.Second}
}

// Validate reports a config Hooks cannot run.
func (c HooksConfig) Validate() error {
	for i, argv := range c.Commands {
		if len(argv) == 0 || argv[0] == "" {
			return fmt.Errorf("%w: hook command %d is empty", ErrInvalidConfig, i)
		}
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("%w: hook timeout must be positive", ErrInvalidConfig)
	}
	return nil
}

// RoleChange is what the hooks are told.
type RoleChange struct {
	Site    string    // ZKDR_SITE: the site whose role changed
	Role    site.Role // ZKDR_ROLE
	Epoch   uint64    // ZKDR_EPOCH
	Connect string    // ZKDR_CONNECT: the active site's connect string, "" if none
}

// Env returns the variables hooks get, as "KEY=value".
func (c RoleChange) Env() []string {
	return []string{
		"ZKDR_SITE=" + c.Site,
		"ZKDR_ROLE=" + string(c.Role),
		"ZKDR_EPOCH=" + strconv.FormatUint(c.Epoch, 10),
		"ZKDR_CONNECT=" + c.Connect,
	}
}

// HookError is one hook that failed. It wraps ErrHookFailed and the cause.
type HookError struct {
	Command  string // argv[0]
	ExitCode int    // -1 if it did not exit by itself
	TimedOut bool
	Err      error
}

func (e *HookError) Error() string {
	switch {
	case e.TimedOut:
		return fmt.Sprintf("hook %s: timed out: %v", e.Command, e.Err)
	case e.ExitCode > 0:
		return fmt.Sprintf("hook %s: exit status %d", e.Command, e.ExitCode)
	default:
		return fmt.Sprintf("hook %s: %v", e.Command, e.Err)
	}
}

func (e *HookError) Unwrap() []error { return []error{ErrHookFailed, e.Err} }

// Hooks runs the configured hooks.
type Hooks struct {
	cfg HooksConfig
	log hclog.Logger
}

// NewHooks validates cfg.
func NewHooks(cfg HooksConfig) (*Hooks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &Hooks{cfg: cfg, log: cfg.Logger.Named("hooks")}, nil
}

// maxOutput bounds how much of a hook's stdout and stderr is kept for the log.
const maxOutput = 64 << 10

// Fire writes the connect file and runs every command for change, each to the
// end even if an earlier one failed (they usually update independent things).
// Output is logged; failures are returned together, each a *HookError (or the
// connect file's error).
func (h *Hooks) Fire(ctx context.Context, change RoleChange) error {
	var errs []error
	if h.cfg.ConnectFile != "" && change.Connect != "" {
		if err := WriteFileAtomic(h.cfg.ConnectFile, []byte(change.Connect+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("write connect file: %w", err))
		} else {
			h.log.Info("connect file written", "file", h.cfg.ConnectFile, "connect", change.Connect)
		}
	}
	for _, argv := range h.cfg.Commands {
		if err := h.run(ctx, argv, change.Env(), "site", change.Site, "role", change.Role, "epoch", change.Epoch); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// run runs argv with env added to zkdr's environment; fields name the event
// in the log.
func (h *Hooks) run(ctx context.Context, argv []string, env []string, fields ...any) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	log := h.log.With(append([]any{"hook", argv[0]}, fields...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxOutput, maxOutput
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	killGroup(cmd)
	// A grandchild that keeps the output pipes open must not hold us past the
	// timeout.
	cmd.WaitDelay = time.Second

	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if stdout.Len() > 0 {
		log.Info("hook stdout", "output", stdout.String())
	}
	if stderr.Len() > 0 {
		log.Warn("hook stderr", "output", stderr.String())
	}
	if err == nil {
		log.Info("hook done", "took", took)
		return nil
	}
	herr := &HookError{Command: argv[0], ExitCode: -1, Err: err}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		herr.ExitCode = exitErr.ExitCode()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		herr.TimedOut = true
	}
	return herr
}

// hookQueue runs fire for each queued change, one after the other, on a
// worker that ends with ctx (wg waits for it). The function it returns queues
// a change without blocking; false means the queue was full and the change
// was dropped.
func hookQueue[T any](ctx context.Context, wg *sync.WaitGroup, fire func(T)) func(T) bool {
	queue := make(chan T, 16)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ch := <-queue:
				fire(ch)
			}
		}
	}()
	return func(ch T) bool {
		select {
		case queue <- ch:
			return true
		default:
			return false
		}
	}
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.truncated = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

func (b *limitedBuffer) String() string {
	if b.truncated {
		return b.Buffer.String() + "...(truncated)"
	}
	return b.Buffer.String()
}

// WriteFileAtomic replaces path with data so that readers see the old content
// or the new one, never a mix: it writes a temporary file in the same
// directory, syncs it and renames it over path, then syncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), perm)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Make the rename itself durable; not every filesystem supports it.
		_ = d.Sync()
		d.Close()
	}
	return nil
}
