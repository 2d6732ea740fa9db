package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/natsserver"
)

// Bad input: the node shapes (1 MB data, 10,000 children under one parent,
// unicode, spaces and dots in names, binary data) are in TestConvergence's
// seedTree. Here: configs an operator gets wrong, and servers that are not
// there yet when the daemon starts.

// A config with a wrong type, an unknown field or a missing field stops
// `zkdr run` at once with a non-zero exit and a message that names the file,
// the line and the field, and never a secret's value.
func TestBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the zkdr binary")
	}
	const secret = "super:do-not-print-me"
	good := `site = "east"
initial_role = "active"
zookeeper {
  servers         = ["127.0.0.1:2181"]
  session_timeout = "10s"
  auth            = "` + secret + `"
}
nats {
  url    = "nats://127.0.0.1:4222"
  domain = "east"
}
peer "west" {
  zookeeper { servers = ["127.0.0.1:2182"] }
  nats { domain = "west" }
}
journal {
  replicas = 1
}
`
	for _, tc := range []struct {
		name, from, to string
		line           int
		field, says    string
	}{
		{"duration without unit", `session_timeout = "10s"`, `session_timeout = 10`, 5, "zookeeper.session_timeout", "invalid duration"},
		{"string for a list", `servers         = ["127.0.0.1:2181"]`, `servers         = "127.0.0.1:2181"`, 4, "zookeeper.servers", "want a list of strings"},
		{"string for a number", `replicas = 1`, `replicas = "three"`, 17, "journal.replicas", "want a whole number"},
		{"list for a string", `domain = "east"`, `domain = ["east"]`, 10, "nats.domain", "want a string"},
		{"unknown field", `servers         = ["127.0.0.1:2181"]`, `server          = ["127.0.0.1:2181"]`, 4, "zookeeper.server", "unknown field"},
		{"unknown block", `journal {`, `journals {`, 16, "journals", "unknown block"},
		{"missing servers", `  servers         = ["127.0.0.1:2181"]` + "\n", ``, 3, "zookeeper.servers", "required"},
		{"empty servers", `servers         = ["127.0.0.1:2181"]`, `servers         = []`, 4, "zookeeper.servers", ""},
		{"missing peer servers", `zookeeper { servers = ["127.0.0.1:2182"] }`, `zookeeper { }`, 13, "peer.west.zookeeper.servers", ""},
		{"bad secret", `auth            = "` + secret + `"`, `auth            = "do-not-print-me"`, 6, "zookeeper.auth", "value not shown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.from) {
				t.Fatalf("the good config has no %q", tc.from)
			}
			path := filepath.Join(t.TempDir(), "site.hcl")
			if err := os.WriteFile(path, []byte(strings.Replace(good, tc.from, tc.to, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			stdout, stderr, err := runZkdr("run", "--config", path)
			if err == nil {
				t.Fatalf("zkdr run accepted the config:\n%s%s", stdout, stderr)
			}
			msg := strings.TrimSpace(stderr)
			if want := fmt.Sprintf("%s:%d:", path, tc.line); !strings.Contains(msg, want) {
				t.Errorf("message does not name the file and line %q: %s", want, msg)
			}
			if !strings.Contains(msg, tc.field+":") {
				t.Errorf("message does not name the field %s: %s", tc.field, msg)
			}
			if !strings.Contains(msg, tc.says) {
				t.Errorf("message does not say %q: %s", tc.says, msg)
			}
			if strings.Contains(stdout+stderr, "do-not-print-me") {
				t.Errorf("the output shows the secret: %s", stdout+stderr)
			}
			t.Logf("exit %v after %s: %s", err, time.Since(start).Round(time.Millisecond), msg)
		})
	}
}

// The active site's ZooKeeper and NATS are both down when its daemon starts.
// The daemon neither exits nor spins: it says which servers it cannot reach
// (and no secret), retries with growing waits, and once ZooKeeper and then
// NATS come up it starts publishing without a restart; the standby converges.
func TestUnreachableAtStart(t *testing.T) {
	p := newPair(t)
	east := p.conn["east"]
	mustCreate(t, east, "/unreach", []byte("before"), 0, nil)
	for i := 0; i < 20; i++ {
		mustCreate(t, east, fmt.Sprintf("/unreach/n%02d", i), []byte{byte(i)}, 0, nil)
	}
	zkAddr := p.zk["east"].Servers()[0]
	if err := p.zk["east"].Stop(0); err != nil {
		t.Fatal(err)
	}
	oldNATS := p.nats["east"]
	natsURL := oldNATS.ClientURL()
	natsAddr := strings.TrimPrefix(natsURL, "nats://")
	natsPort, _ := strconv.Atoi(natsAddr[strings.LastIndex(natsAddr, ":")+1:])
	leafAddr := oldNATS.LeafAddr()
	leafPort, _ := strconv.Atoi(leafAddr[strings.LastIndex(leafAddr, ":")+1:])
	oldNATS.Shutdown()

	dm := p.startProcess("east")
	logFile := func() string {
		matches, _ := filepath.Glob(filepath.Join(p.dir, "east-*.log"))
		if len(matches) != 1 {
			t.Fatalf("east daemon logs %v", matches)
		}
		b, err := os.ReadFile(matches[0])
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	alive := func(phase string) {
		t.Helper()
		select {
		case <-dm.done:
			t.Fatalf("the daemon exited %s: %v\n%s", phase, dm.err, tail(logFile(), 4000))
		default:
		}
	}
	noSecret := func() {
		t.Helper()
		if strings.Contains(logFile(), strings.SplitN(superAuth, ":", 2)[1]) {
			t.Fatal("the daemon's log shows the ZooKeeper password")
		}
	}

	// ZooKeeper down: the log names the server, repeatedly, without a flood.
	phase1 := time.Now()
	zkLines := func() int { return linesWith(logFile(), zkAddr) }
	waitFor(t, time.Minute, "the log to name the unreachable ZooKeeper server three times", func() bool { return zkLines() >= 3 })
	holdFor(t, phase1.Add(10*time.Second))
	alive("while ZooKeeper is down")
	noSecret()
	zkLog := logFile()
	t.Logf("ZooKeeper down for %s: %d log lines name %s; %d lines in all; e.g.\n%s",
		time.Since(phase1).Round(time.Second), zkLines(), zkAddr, strings.Count(zkLog, "\n"), firstLineWith(zkLog, zkAddr))
	if n := strings.Count(zkLog, "\n"); n > 200 {
		t.Fatalf("the daemon wrote %d log lines in %s while ZooKeeper was down: a retry loop without backoff", n, time.Since(phase1))
	}

	// ZooKeeper back, NATS still down: the log names the NATS server.
	if err := p.zk["east"].Restart(0); err != nil {
		t.Fatal(err)
	}
	phase2 := time.Now()
	before := strings.Count(logFile(), "\n")
	natsLines := func() int { return linesWith(logFile()[len(zkLog):], natsAddr) }
	waitFor(t, 3*time.Minute, "the log to name the unreachable NATS server", func() bool { return natsLines() >= 1 })
	holdFor(t, phase2.Add(10*time.Second))
	alive("while NATS is down")
	noSecret()
	natsLog := logFile()[len(zkLog):]
	t.Logf("NATS down for %s: %d log lines name %s; %d new lines; e.g.\n%s",
		time.Since(phase2).Round(time.Second), natsLines(), natsAddr, strings.Count(logFile(), "\n")-before, firstLineWith(natsLog, natsAddr))
	if n := strings.Count(natsLog, "\n"); n > 200 {
		t.Fatalf("the daemon wrote %d log lines in %s while NATS was down: a retry loop without backoff", n, time.Since(phase2))
	}

	// NATS back: the daemon starts publishing by itself.
	p.nats["east"] = natsserver.StartT(t, natsserver.Config{Site: "east", SyncAlways: true, StoreDir: oldNATS.StoreDir(), Port: natsPort, LeafPort: leafPort})
	up := time.Now()
	p.start("west")
	mustCreate(t, east, "/unreach/after", []byte("after"), 0, nil)
	// West's mirror tried east's stream all the while it was down, and
	// nats-server backs off those retries (up to 2 minutes, plus 30 s for an
	// unanswered request): convergence may wait for the next retry.
	p.waitConverged(5 * time.Minute)
	alive("after the servers came up")
	noSecret()
	t.Logf("converged %s after NATS came up", time.Since(up).Round(100*time.Millisecond))
}

// holdFor waits until the fault's planned end; the fault lasts that long
// whatever the daemon does meanwhile.
func holdFor(t *testing.T, end time.Time) {
	t.Helper()
	time.Sleep(time.Until(end))
}

func linesWith(log, s string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			n += repeats(line)
		}
	}
	return n
}

var repeatedRe = regexp.MustCompile(`\(repeated (\d+) times`)

// repeats is how many occurrences a rate-limited log line stands for.
func repeats(line string) int {
	if m := repeatedRe.FindStringSubmatch(line); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 1
}

func firstLineWith(log, s string) string {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
