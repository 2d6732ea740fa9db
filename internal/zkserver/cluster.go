package zkserver

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/zkconn"
)

// Where the Debian package puts ZooKeeper.
const (
	zooKeeperJar = "/usr/share/java/zookeeper.jar"
	confDir      = "/etc/zookeeper/conf"
	mainClass    = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

// loggingJars give the server an slf4j binding so its log reaches server.log;
// zookeeper.jar's manifest brings slf4j-api, jute and netty but no binding.
var loggingJars = []string{"/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}

// bindAttempts bounds how often Start picks new ports after losing a port race
// with another process on the machine.
const bindAttempts = 4

// Cluster is a set of ZooKeeper server processes: a standalone server or an ensemble.
type Cluster struct {
	cfg       Config
	log       hclog.Logger
	dir       string
	ownDir    bool
	java      string
	classpath string

	mu      sync.Mutex // guards servers' processes and closed
	servers []*server
	closed  bool
}

// server is one ZooKeeper process's fixed identity: its ports and directory.
type server struct {
	id           int // myid, index+1
	dir          string
	clientPort   int
	quorumPort   int
	electionPort int
	proc         *process // nil when not running
}

func (s *server) addr() string    { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort)) }
func (s *server) logPath() string { return filepath.Join(s.dir, "server.log") }
func (s *server) running() bool   { return s.proc != nil && !s.proc.exited() }

// ask sends a four-letter word to s, giving up within 2s or as soon as its
// process p exits.
func (s *server) ask(ctx context.Context, p *process, word string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return zkconn.FourLetter(ctx, s.addr(), word)
}

// Start runs cfg.Servers ZooKeeper processes and returns once all of them serve
// (for an ensemble: a leader is elected and every server reports a mode).
func Start(cfg Config) (*Cluster, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, ErrJavaNotInstalled
	}
	if _, err := os.Stat(zooKeeperJar); err != nil {
		return nil, ErrZooKeeperNotInstalled
	}
	cp := []string{confDir, zooKeeperJar}
	for _, j := range loggingJars {
		if _, err := os.Stat(j); err == nil {
			cp = append(cp, j)
		}
	}
	c := &Cluster{
		cfg:       cfg,
		log:       cfg.Logger.Named("zkserver"),
		dir:       cfg.Dir,
		java:      java,
		classpath: strings.Join(cp, ":"),
	}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "zkserver-"); err != nil {
			return nil, fmt.Errorf("make data dir: %w", err)
		}
		c.ownDir = true
	}
	for i := range cfg.Servers {
		c.servers = append(c.servers, &server{id: i + 1, dir: filepath.Join(c.dir, "zk"+strconv.Itoa(i+1))})
	}
	for attempt := 1; ; attempt++ {
		err = c.startAll()
		if err == nil {
			return c, nil
		}
		c.killAll()
		if attempt >= bindAttempts || !c.lostPortRace() {
			break
		}
		c.log.Debug("port taken by another process, picking new ports", "attempt", attempt)
	}
	if c.ownDir {
		_ = os.RemoveAll(c.dir)
	}
	return nil, err
}

// startAll picks ports, writes every server's files and starts them all.
func (c *Cluster) startAll() error {
	ports, err := pickPorts(3 * len(c.servers))
	if err != nil {
		return fmt.Errorf("pick ports: %w", err)
	}
	for i, s := range c.servers {
		s.clientPort, s.quorumPort, s.electionPort = ports[3*i], ports[3*i+1], ports[3*i+2]
	}
	for _, s := range c.servers {
		if err := c.writeFiles(s); err != nil {
			return err
		}
	}
	c.mu.Lock()
	for _, s := range c.servers {
		if err := c.launch(s); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StartTimeout)
	defer cancel()
	return c.waitServing(ctx)
}

// writeFiles writes myid and zoo.cfg of s.
func (c *Cluster) writeFiles(s *server) error {
	data := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("make data dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(s.id)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write myid: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", c.cfg.TickTime.Milliseconds())
	b.WriteString("initLimit=20\nsyncLimit=10\n")
	fmt.Fprintf(&b, "dataDir=%s\n", data)
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", s.clientPort)
	b.WriteString("admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n")
	b.WriteString("reconfigEnabled=false\nstandaloneEnabled=true\n")
	if len(c.servers) > 1 {
		for _, o := range c.servers {
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", o.id, o.quorumPort, o.electionPort)
		}
	}
	if err := os.WriteFile(filepath.Join(s.dir, "zoo.cfg"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write zoo.cfg: %w", err)
	}
	return nil
}

// jvmArgs is the java command line for s. It holds the super digest, so it is
// never logged.
func (c *Cluster) jvmArgs(s *server) []string {
	args := []string{
		"-Xms64m", "-Xmx" + c.cfg.MaxHeap, "-XX:+UseSerialGC", "-XX:-UsePerfData",
		"-Djava.net.preferIPv4Stack=true",
		"-Dzookeeper.root.logger=INFO,CONSOLE",
		"-Dzookeeper.log.dir=" + s.dir,
		"-Dzookeeper.admin.enableServer=false",
	}
	if c.cfg.SuperDigest != "" {
		args = append(args, "-Dzookeeper.DigestAuthenticationProvider.superDigest="+superDigest(c.cfg.SuperDigest))
	}
	if c.cfg.ExtendedTypes {
		args = append(args, "-Dzookeeper.extendedTypesEnabled=true")
	}
	keys := make([]string, 0, len(c.cfg.JavaProps))
	for k := range c.cfg.JavaProps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-D"+k+"="+c.cfg.JavaProps[k])
	}
	return append(args, "-cp", c.classpath, mainClass, filepath.Join(s.dir, "zoo.cfg"))
}

// superDigest turns "user:password" into ZooKeeper's "user:base64(sha1(user:password))".
func superDigest(userPass string) string {
	user, _, _ := strings.Cut(userPass, ":")
	sum := sha1.Sum([]byte(userPass))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// launch starts s's process. Callers hold c.mu.
func (c *Cluster) launch(s *server) error {
	fmt.Fprintf(logAppender(s.logPath()), "---- zkserver: starting server %d at %s ----\n", s.id, time.Now().Format(time.RFC3339Nano))
	p, err := startProcess(c.java, c.jvmArgs(s), s.dir, s.logPath())
	if err != nil {
		return fmt.Errorf("start server %d: %w", s.id, err)
	}
	s.proc = p
	c.log.Debug("started server", "server", s.id, "client-addr", s.addr(), "pid", p.cmd.Process.Pid)
	return nil
}

// waitServing polls until every running server answers srvr with a mode and, for
// an ensemble, one of them is leader. A process that exits meanwhile ends the wait
// with its log tail.
func (c *Cluster) waitServing(ctx context.Context) error {
	var last error
	op := func() error {
		type started struct {
			s *server
			p *process
		}
		c.mu.Lock()
		var procs []started
		for _, s := range c.servers {
			if s.proc != nil {
				procs = append(procs, started{s, s.proc})
			}
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return backoff.Permanent(ErrClosed)
		}
		leader := false
		for _, sp := range procs {
			s := sp.s
			if sp.p.exited() {
				return backoff.Permanent(fmt.Errorf("%w: server %d: %v\n%s", ErrExited, s.id, sp.p.err, c.tail(s)))
			}
			reply, err := s.ask(ctx, sp.p, "srvr")
			if err != nil {
				last = fmt.Errorf("server %d: %w", s.id, err)
				return last
			}
			m := zkconn.SrvrField(reply, "Mode")
			if m == "" {
				last = fmt.Errorf("server %d: %s", s.id, strings.TrimSpace(reply))
				return last
			}
			leader = leader || m == "leader" || m == "standalone"
		}
		if !leader {
			last = ErrNoLeader
			return last
		}
		return nil
	}
	b := backoff.WithContext(backoff.NewConstantBackOff(100*time.Millisecond), ctx)
	if err := backoff.Retry(op, b); err != nil {
		if errors.Is(err, ErrExited) || errors.Is(err, ErrClosed) {
			return err
		}
		var tails strings.Builder
		for _, s := range c.servers {
			fmt.Fprintf(&tails, "server %d log:\n%s\n", s.id, c.tail(s))
		}
		return fmt.Errorf("%w after %s (last: %v)\n%s", ErrNotServing, c.cfg.StartTimeout, last, tails.String())
	}
	return nil
}

// lostPortRace reports whether a server failed because its port was taken.
func (c *Cluster) lostPortRace() bool {
	for _, s := range c.servers {
		b, _ := os.ReadFile(s.logPath())
		if strings.Contains(string(b), "Address already in use") || strings.Contains(string(b), "BindException") {
			return true
		}
	}
	return false
}

// tail returns the end of s's log file.
func (c *Cluster) tail(s *server) string {
	return tailFile(s.logPath(), 40)
}

// Servers returns the client addresses, "127.0.0.1:port", of all servers, running or not.
func (c *Cluster) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.addr()
	}
	return out
}

// ConnectString is Servers joined by commas.
func (c *Cluster) ConnectString() string { return strings.Join(c.Servers(), ",") }

// Dir is the data root holding one directory per server (zk1, zk2...).
func (c *Cluster) Dir() string { return c.dir }

// DataDir is server i's ZooKeeper dataDir (snapshots, transaction logs and
// myid). Copying it while the server is stopped is a backup; putting a copy
// back before Restart restores the server from it.
func (c *Cluster) DataDir(i int) string {
	if i < 0 || i >= len(c.servers) {
		return ""
	}
	return filepath.Join(c.servers[i].dir, "data")
}

// LogPath is the file that holds server i's output.
func (c *Cluster) LogPath(i int) string {
	if i < 0 || i >= len(c.servers) {
		return ""
	}
	return c.servers[i].logPath()
}

// PID is the process id of server i, or 0 when it is not running.
func (c *Cluster) PID(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.servers) || !c.servers[i].running() {
		return 0
	}
	return c.servers[i].proc.cmd.Process.Pid
}

// Running reports whether server i's process is alive.
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return i >= 0 && i < len(c.servers) && c.servers[i].running()
}

func (c *Cluster) server(i int) (*server, error) {
	if c.closed {
		return nil, ErrClosed
	}
	if i < 0 || i >= len(c.servers) {
		return nil, fmt.Errorf("%w: %d", ErrBadIndex, i)
	}
	return c.servers[i], nil
}

// Kill sends SIGKILL to server i (a crash) and waits until it is gone.
func (c *Cluster) Kill(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.server(i)
	if err != nil {
		return err
	}
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
		c.log.Debug("killed server", "server", s.id)
	}
	return nil
}

// Stop shuts server i down with SIGTERM (SIGKILL after 10s) and waits until it is gone.
func (c *Cluster) Stop(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.server(i)
	if err != nil {
		return err
	}
	if s.proc != nil {
		s.proc.terminate(10 * time.Second)
		s.proc = nil
		c.log.Debug("stopped server", "server", s.id)
	}
	return nil
}

// Restart starts server i again on the same ports with the same data, and waits
// until every running server serves and a leader exists.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	s, err := c.server(i)
	if err == nil && s.running() {
		err = fmt.Errorf("%w: %d", ErrRunning, i)
	}
	if err == nil {
		s.proc = nil // reaped already if it exited by itself
		err = c.launch(s)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StartTimeout)
	defer cancel()
	if err := c.waitServing(ctx); err != nil {
		return fmt.Errorf("restart server %d: %w", s.id, err)
	}
	return nil
}

// Mode asks server i for its mode: "leader", "follower", "standalone", or "" when it
// does not serve requests.
func (c *Cluster) Mode(i int) (string, error) {
	c.mu.Lock()
	s, err := c.server(i)
	c.mu.Unlock()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := zkconn.FourLetter(ctx, s.addr(), "srvr")
	if err != nil {
		return "", err
	}
	return zkconn.SrvrField(reply, "Mode"), nil
}

// Leader returns the index of the server that reports "Mode: leader" (or of a
// standalone server).
func (c *Cluster) Leader() (int, error) {
	c.mu.Lock()
	var idx []int
	for i, s := range c.servers {
		if s.running() {
			idx = append(idx, i)
		}
	}
	c.mu.Unlock()
	for _, i := range idx {
		if m, err := c.Mode(i); err == nil && (m == "leader" || m == "standalone") {
			return i, nil
		}
	}
	return -1, ErrNoLeader
}

// WaitLeader polls until a leader exists, or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	var leader int
	b := backoff.WithContext(backoff.NewConstantBackOff(100*time.Millisecond), ctx)
	err := backoff.Retry(func() (err error) {
		leader, err = c.Leader()
		return err
	}, b)
	if err != nil {
		return -1, fmt.Errorf("wait for leader: %w", err)
	}
	return leader, nil
}

// Close stops every server and removes the data root if Start made it. Temp
// clusters are killed (their data goes away anyway); clusters in a given Dir are
// shut down cleanly.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if c.ownDir {
		c.killAll()
		if err := os.RemoveAll(c.dir); err != nil {
			return fmt.Errorf("remove data dir: %w", err)
		}
		return nil
	}
	var wg sync.WaitGroup
	c.mu.Lock()
	for _, s := range c.servers {
		if p := s.proc; p != nil {
			s.proc = nil
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.terminate(10 * time.Second)
			}()
		}
	}
	c.mu.Unlock()
	wg.Wait()
	return nil
}

func (c *Cluster) killAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.servers {
		if s.proc != nil {
			s.proc.kill()
			s.proc = nil
		}
	}
}

// pickPorts is freePorts; tests replace it to lose a port race on purpose.
var pickPorts = freePorts

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
