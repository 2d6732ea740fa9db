package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
)

const prometheusBin = "/usr/bin/prometheus"

// promLog collects a Prometheus process's output for the test log.
type promLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *promLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *promLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// promServer is a real Prometheus (Debian's package) on a loopback port.
type promServer struct {
	t    *testing.T
	addr string
}

// startPrometheus runs Prometheus scraping targets every second as job zkdr
// and evaluating rulesPath every second, with its own storage; it stops in
// t.Cleanup, and its output goes to the test log if the test failed.
func startPrometheus(t *testing.T, rulesPath string, targets []string) *promServer {
	t.Helper()
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Skipf("%s not found: Debian's prometheus package has it (scripts/deps.sh installs it)", prometheusBin)
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: zkdr
    static_configs:
      - targets: [%s]
`, rulesPath, strings.Join(quoted, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := &promServer{t: t, addr: freeAddr(t)}
	out := &promLog{}
	cmd := exec.Command(prometheusBin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+ps.addr,
		"--log.level=info")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", tail(out.String(), 8000))
		}
	})
	waitFor(t, time.Minute, "prometheus ready", func() bool {
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", out.String())
		default:
		}
		resp, err := http.Get("http://" + ps.addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return ps
}

// api GETs a Prometheus HTTP API path and decodes its data into v; an error
// status or a failed request is an error.
func (ps *promServer) api(path string, query url.Values, v any) error {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + ps.addr + path + "?" + query.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %v: %s", path, err, b)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s", path, r.Error)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(r.Data, v)
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alerts returns the active (pending or firing) alerts.
func (ps *promServer) alerts() ([]promAlert, error) {
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	err := ps.api("/api/v1/alerts", nil, &data)
	return data.Alerts, err
}

// alertState is the state of the named alert for site: "firing", "pending",
// or "" when it is not active.
func (ps *promServer) alertState(name, site string) (string, error) {
	as, err := ps.alerts()
	if err != nil {
		return "", err
	}
	state := ""
	for _, a := range as {
		if a.Labels["alertname"] == name && a.Labels["site"] == site && (state == "" || a.State == "firing") {
			state = a.State
		}
	}
	return state, nil
}

var forLine = regexp.MustCompile(`(?m)^(\s+)for: \S+$`)

// shortRules writes a copy of the shipped rules whose every `for:` is 2s, so
// an alert fires within seconds of its condition; the expressions stay the
// shipped ones, line for line.
func shortRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(deployRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	short := forLine.ReplaceAll(b, []byte("${1}for: 2s"))
	orig, copied := strings.Split(string(b), "\n"), strings.Split(string(short), "\n")
	if len(orig) != len(copied) {
		t.Fatal("rewriting for: changed the number of lines")
	}
	changed := 0
	for i := range orig {
		if orig[i] != copied[i] {
			if !forLine.MatchString(orig[i]) {
				t.Fatalf("rewriting for: changed line %d: %q", i+1, orig[i])
			}
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("the rules file has no for: to shorten")
	}
	path := filepath.Join(t.TempDir(), "zkdr-rules.yml")
	if err := os.WriteFile(path, short, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A real Prometheus with the shipped alert rules, scraping two real daemons:
// every rule evaluates without error and every dashboard query is valid
// PromQL; when the link between the sites is cut, ZkdrReplicationLagHigh
// fires for the standby, and it resolves once the link is healed and the
// standby has caught up.
func TestPrometheusLagAlert(t *testing.T) {
	const lagAlert = "ZkdrReplicationLagHigh"
	rules := shortRules(t)
	addr := map[string]string{"east": freeAddr(t), "west": freeAddr(t)}
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.Metrics.Listen = addr[site]
	}))
	mustCreate(t, p.conn["east"], "/prom", []byte("x"), 0, nil)
	p.startProcess("east")
	p.startProcess("west")
	p.waitConverged(2 * time.Minute)
	waitFor(t, time.Minute, "a watermark on west", func() bool { return readCheckpoint(t, p.conn["west"]).WatermarkZxid != 0 })

	ps := startPrometheus(t, rules, []string{addr["east"], addr["west"]})
	var lastErr error
	waitFor(t, 2*time.Minute, "both daemons scraped and west's lag known", func() bool {
		var up, lag []any
		if lastErr = ps.api("/api/v1/query", url.Values{"query": {`up{job="zkdr"} == 1`}}, &struct {
			Result *[]any `json:"result"`
		}{&up}); lastErr != nil {
			return false
		}
		if lastErr = ps.api("/api/v1/query", url.Values{"query": {`zkdr_replication_lag_seconds{site="west"}`}}, &struct {
			Result *[]any `json:"result"`
		}{&lag}); lastErr != nil {
			return false
		}
		return len(up) == 2 && len(lag) == 1
	})

	// Every shipped rule loads and evaluates against the real series.
	var ruleReport string
	waitFor(t, time.Minute, "every rule evaluated without error", func() bool {
		var data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if lastErr = ps.api("/api/v1/rules", nil, &data); lastErr != nil {
			return false
		}
		n, ok := 0, true
		var b strings.Builder
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				n++
				fmt.Fprintf(&b, "%s: %s %s; ", r.Name, r.Health, r.LastError)
				ok = ok && r.Health == "ok"
			}
		}
		ruleReport = b.String()
		return ok && n == strings.Count(readText(t, deployRulesFile), "- alert: ")
	})
	t.Logf("rules: %s", ruleReport)

	// Every dashboard query is PromQL Prometheus accepts, with Grafana's
	// variables as Grafana would fill them in.
	fill := strings.NewReplacer(`$site`, `.*`, `$__rate_interval`, `1m`)
	for _, e := range dashboardExprs(t, deployDashboardFile) {
		if !strings.Contains(e, "zkdr_") || strings.HasPrefix(e, "label_values(") {
			continue
		}
		if err := ps.api("/api/v1/query", url.Values{"query": {fill.Replace(e)}}, nil); err != nil {
			t.Errorf("dashboard query %q: %v", e, err)
		}
	}

	if s, err := ps.alertState(lagAlert, "west"); err != nil || s != "" {
		t.Fatalf("%s is %q before the link is cut (%v)", lagAlert, s, err)
	}

	p.link.Cut()
	cutAt := time.Now()
	waitFor(t, 3*time.Minute, lagAlert+" firing for west", func() bool {
		s, err := ps.alertState(lagAlert, "west")
		lastErr = err
		return s == "firing"
	})
	firedAfter := time.Since(cutAt)
	if s, _ := ps.alertState(lagAlert, "east"); s != "" {
		t.Errorf("%s is %s for east, which has no standby lag", lagAlert, s)
	}

	p.link.Heal()
	healAt := time.Now()
	// The mirror resumes on nats-server's retry schedule (see
	// docs/operations.md), then the lag falls under the threshold.
	waitFor(t, 5*time.Minute, lagAlert+" resolved", func() bool {
		s, err := ps.alertState(lagAlert, "west")
		lastErr = err
		return err == nil && s == ""
	})
	t.Logf("%s fired %s after the cut and resolved %s after the heal", lagAlert,
		firedAfter.Round(100*time.Millisecond), time.Since(healAt).Round(100*time.Millisecond))
	if lastErr != nil {
		t.Logf("last API error while polling: %v", lastErr)
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
