package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zkdr/zkdr/configs"
)

// buildZkdr compiles the zkdr command into dir, for a daemon run as its own
// process (so its memory can be read from /proc, apart from the bench's).
func buildZkdr(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "zkdr")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/zkdr/zkdr/cmd/zkdr")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build zkdr: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// childDaemon is `zkdr run` for one site as a child process.
type childDaemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *os.File
}

// startChild writes site's config as HCL, the way an operator would, and runs
// `zkdr run` on it. The credentials go through the environment.
func (p *zkdrPair) startChild(bin, dir, site string) (*childDaemon, error) {
	path := filepath.Join(dir, site+".hcl")
	if err := os.WriteFile(path, []byte(hclFor(p.cfg[site])), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "zkdr-"+site+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Env = append(os.Environ(), "ZKDR_BENCH_AUTH="+superAuth)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start zkdr run for %s: %w", site, err)
	}
	c := &childDaemon{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited returns an error once the child ended by itself.
func (c *childDaemon) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("zkdr run ended: %v (log %s)", c.err, c.log.Name())
	default:
		return nil
	}
}

// stop ends the child with SIGTERM (SIGKILL after 30 s) and waits for it.
func (c *childDaemon) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.log.Close()
}

// memWatch samples a process's resident memory until stopped; VmHWM gives
// the peak too, the samples say when it was reached.
type memWatch struct {
	pid  int
	mu   sync.Mutex
	peak float64
	stop chan struct{}
	done chan struct{}
}

func watchMemory(pid int) *memWatch {
	m := &memWatch{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if v := vmHWM(pid); v > 0 {
				m.mu.Lock()
				m.peak = max(m.peak, v)
				m.mu.Unlock()
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// end stops the sampling and returns the peak resident memory in MiB.
func (m *memWatch) end() float64 {
	close(m.stop)
	<-m.done
	if v := vmHWM(m.pid); v > 0 {
		m.peak = max(m.peak, v)
	}
	return m.peak
}

// hclFor writes a site's config as HCL; auth comes from ZKDR_BENCH_AUTH.
func hclFor(c *configs.Config) string {
	q := func(list []string) string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	return fmt.Sprintf(`site = %q
initial_role = %q
zookeeper {
  servers = %s
  session_timeout = %q
  auth = env("ZKDR_BENCH_AUTH")
}
nats {
  url = %q
  domain = %q
}
peer %q {
  zookeeper {
    servers = %s
    auth    = env("ZKDR_BENCH_AUTH")
  }
  nats { domain = %q }
}
metrics { listen = "" }
log { level = "info" }
source { watch = %q }
`, c.Site, c.InitialRole, q(c.ZooKeeper.Servers), c.ZooKeeper.SessionTimeout, c.NATS.URL(), c.NATS.Domain,
		c.Peer.Name, q(c.Peer.ZooKeeper.Servers), c.Peer.NATS.Domain, c.Source.Watch)
}
