package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// zkbench runs the peers' zkbench tool as a separate program.
type zkbench struct {
	bin  string
	auth string // ZKBENCH_AUTH: the super user, so every node is readable; never logged
	log  hclog.Logger
}

// buildZkbench compiles zkbench from peersDir into dir. It is its own module,
// so it is built inside its directory.
func buildZkbench(ctx context.Context, peersDir, dir string) (string, error) {
	src := filepath.Join(peersDir, "zkbench")
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		return "", fmt.Errorf("%w: %v", ErrPeersMissing, err)
	}
	bin := filepath.Join(dir, "zkbench")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build zkbench: %w: %s", err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// run runs one zkbench verb and returns its standard output; a non-zero exit
// is an error that carries the tail of the output.
func (z *zkbench) run(ctx context.Context, verb string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, z.bin, append([]string{verb}, args...)...)
	cmd.Env = append(os.Environ(), "ZKBENCH_AUTH="+z.auth)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	z.log.Debug("zkbench", "verb", verb, "args", strings.Join(args, " "))
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("zkbench %s: %w: %s", verb, err, tail(out.String()+errOut.String(), 1500))
	}
	return out.String(), nil
}

// diff runs zkbench diff on root and reports whether the trees are equal.
func (z *zkbench) diff(ctx context.Context, src, dst, root string) (bool, string, error) {
	out, err := z.run(ctx, "diff", "-src", src, "-dst", dst, "-root", root)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 && strings.Contains(out, "differences") {
		return false, out, nil
	}
	if err != nil {
		return false, out, err
	}
	return true, out, nil
}

// waitEqual runs diffs until dst equals src and returns when the passing diff
// started: that is when the standby was known to be equal.
func (z *zkbench) waitEqual(ctx context.Context, src, dst, root string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		at := time.Now()
		ok, out, err := z.diff(ctx, src, dst, root)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			return at, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%w after %s: %s", ErrNotEqual, timeout, tail(out, 1500))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

var (
	reChurn = regexp.MustCompile(`churn: (\d+) sets \((\d+)/s\), (\d+) errors`)
	reProbe = regexp.MustCompile(`probe lag: n=(\d+) p50=(\S+) p90=(\S+) p99=(\S+) max=(\S+)`)
	reCopy  = regexp.MustCompile(`copy \w+: (\d+) nodes in ([0-9.]+)s`)
	reLoad  = regexp.MustCompile(`loaded (\d+) nodes under \S+ in ([0-9.]+)s`)
)

// ChurnResult is what zkbench churn did.
type ChurnResult struct {
	Sets   int     `json:"sets"`
	Rate   float64 `json:"rate_per_s"`
	Errors int     `json:"errors"`
}

func parseChurn(out string) (ChurnResult, error) {
	m := reChurn.FindStringSubmatch(out)
	if m == nil {
		return ChurnResult{}, fmt.Errorf("%w: churn: %q", ErrToolOutput, tail(out, 300))
	}
	sets, _ := strconv.Atoi(m[1])
	rate, _ := strconv.ParseFloat(m[2], 64)
	errs, _ := strconv.Atoi(m[3])
	return ChurnResult{Sets: sets, Rate: rate, Errors: errs}, nil
}

// LagResult is what zkbench probe saw: the lag of timestamps written on the
// primary until they showed on the standby.
type LagResult struct {
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P90     time.Duration `json:"p90_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

func parseProbe(out string) (LagResult, error) {
	m := reProbe.FindStringSubmatch(out)
	if m == nil {
		return LagResult{}, fmt.Errorf("%w: probe: %q", ErrToolOutput, tail(out, 300))
	}
	var r LagResult
	r.Samples, _ = strconv.Atoi(m[1])
	for i, d := range []*time.Duration{&r.P50, &r.P90, &r.P99, &r.Max} {
		v, err := time.ParseDuration(m[i+2])
		if err != nil {
			return LagResult{}, fmt.Errorf("%w: probe: %v", ErrToolOutput, err)
		}
		*d = v
	}
	return r, nil
}

func parseCopy(out string) (nodes int, took time.Duration, err error) {
	m := reCopy.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("%w: copy: %q", ErrToolOutput, tail(out, 300))
	}
	nodes, _ = strconv.Atoi(m[1])
	secs, _ := strconv.ParseFloat(m[2], 64)
	return nodes, time.Duration(secs * float64(time.Second)), nil
}

func parseLoad(out string) (nodes int, took time.Duration, err error) {
	m := reLoad.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("%w: load: %q", ErrToolOutput, tail(out, 300))
	}
	nodes, _ = strconv.Atoi(m[1])
	secs, _ := strconv.ParseFloat(m[2], 64)
	return nodes, time.Duration(secs * float64(time.Second)), nil
}

// curatorMirror is the peers' Curator-based mirror, running as its own process
// (run.sh execs java, so the process group holds the JVM).
type curatorMirror struct {
	cmd         *exec.Cmd
	initialized chan struct{}
	done        chan struct{}
	err         error
	logFile     *os.File
}

// startCurator starts the mirror from src to dst on root. Its output goes to
// logPath; the line "initialized" closes m.initialized.
func startCurator(peersDir, src, dst, root, logPath string) (*curatorMirror, error) {
	script := filepath.Join(peersDir, "curator-mirror", "run.sh")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPeersMissing, err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", script, src, dst, root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start curator-mirror: %w", err)
	}
	m := &curatorMirror{cmd: cmd, initialized: make(chan struct{}), done: make(chan struct{}), logFile: logFile}
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if strings.TrimSpace(sc.Text()) == "initialized" {
				once.Do(func() { close(m.initialized) })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		m.err = cmd.Wait()
		close(m.done)
	}()
	return m, nil
}

// waitInitialized waits for the mirror's first load, or its early exit.
func (m *curatorMirror) waitInitialized(ctx context.Context, timeout time.Duration) error {
	select {
	case <-m.initialized:
		return nil
	case <-m.done:
		return fmt.Errorf("curator-mirror exited before its first load: %v (log %s)", m.err, m.logFile.Name())
	case <-time.After(timeout):
		return fmt.Errorf("curator-mirror not initialized after %s (log %s)", timeout, m.logFile.Name())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the mirror's process group and waits for it.
func (m *curatorMirror) stop() {
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	m.logFile.Close()
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
