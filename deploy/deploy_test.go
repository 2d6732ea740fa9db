package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
)

const (
	unitFile     = "systemd/zkdr.service"
	envFile      = "default/zkdr"
	configFile   = "config/zkdr.hcl"
	rulesFile    = "prometheus/zkdr-rules.yml"
	rulesTest    = "prometheus/zkdr-rules_test.yml"
	dashboard    = "grafana/zkdr.json"
	runbook      = "../docs/runbook.md"
	systemdTool  = "systemd-analyze"
	promtoolPath = "/usr/bin/promtool"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// zkdrBinary builds cmd/zkdr once for the tests that need an executable.
func zkdrBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "zkdr-deploy-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "zkdr")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/zkdr").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// unit is a parsed systemd unit file: section -> key -> values in file order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s= is set %d times, want once: %q", section, key, len(v), v)
	}
	return v[0]
}

// verifyUnit runs systemd-analyze verify on path and returns the lines of its
// output that speak of the unit (name or path): other units of the host may
// have problems of their own.
func verifyUnit(t *testing.T, path string) []string {
	t.Helper()
	tool, err := exec.LookPath(systemdTool)
	if err != nil {
		t.Skipf("%s not found (Debian's systemd package has it; scripts/deps.sh installs it)", systemdTool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "verify", "--man=no", path).CombinedOutput()
	var mine []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, filepath.Base(path)) || strings.Contains(l, path) || strings.Contains(l, filepath.Dir(path)) {
			mine = append(mine, l)
		}
	}
	if err != nil && len(mine) == 0 {
		t.Logf("systemd-analyze verify exited with %v, about other units only:\n%s", err, out)
	}
	return mine
}

// unitCopy writes the unit into a fresh directory with ExecStart pointing at
// bin, which systemd-analyze requires to exist, and with replace applied.
func unitCopy(t *testing.T, bin string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "ExecStart=/usr/bin/zkdr ", "ExecStart="+bin+" ", 1)
	if s == string(b) {
		t.Fatal("the unit has no ExecStart=/usr/bin/zkdr line")
	}
	s = strings.NewReplacer(replace...).Replace(s)
	path := filepath.Join(t.TempDir(), "zkdr.service")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// systemd-analyze verify finds nothing to say about the unit, and does speak
// up about a broken copy (so its silence means something on this machine).
func TestSystemdUnitVerifies(t *testing.T) {
	bin := zkdrBinary(t)
	if lines := verifyUnit(t, unitCopy(t, bin)); len(lines) > 0 {
		t.Fatalf("systemd-analyze verify complains about the unit:\n%s", strings.Join(lines, "\n"))
	}
	t.Run("a misspelt key is reported", func(t *testing.T) {
		lines := verifyUnit(t, unitCopy(t, bin, "ProtectHome=yes", "ProtectHomee=yes"))
		if !strings.Contains(strings.Join(lines, "\n"), "ProtectHomee") {
			t.Fatalf("systemd-analyze verify said nothing about an unknown key: %q", lines)
		}
	})
	t.Run("a missing binary is reported", func(t *testing.T) {
		lines := verifyUnit(t, unitCopy(t, bin, "ExecStart="+bin, "ExecStart="+bin+"-missing"))
		if len(lines) == 0 {
			t.Fatal("systemd-analyze verify said nothing about a missing ExecStart binary")
		}
	})
}

// The unit's exposure, as systemd-analyze security scores it offline, stays
// low; the hardening settings operators look for are all there.
func TestSystemdUnitHardening(t *testing.T) {
	u := parseUnit(t, unitFile)
	want := map[string]string{
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"RestrictRealtime":        "yes",
		"RestrictSUIDSGID":        "yes",
		"SystemCallArchitectures": "native",
		"CapabilityBoundingSet":   "",
		"User":                    "zkdr",
		"Group":                   "zkdr",
		"Restart":                 "on-failure",
	}
	for k, v := range want {
		if got := u.one(t, "Service", k); got != v {
			t.Errorf("%s=%s, want %s=%s", k, got, k, v)
		}
	}
	if _, ok := u["Service"]["RestartSec"]; !ok {
		t.Error("no RestartSec=")
	}
	tool, err := exec.LookPath(systemdTool)
	if err != nil {
		t.Skipf("%s not found", systemdTool)
	}
	path := unitCopy(t, zkdrBinary(t))
	// --threshold is the exposure level times ten.
	out, err := exec.Command(tool, "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security scores the unit over 2.0 (%v):\n%s", err, out)
	}
	if i := strings.Index(string(out), "Overall exposure level"); i >= 0 {
		t.Log(strings.TrimSpace(string(out[i:])))
	}
}

// The unit starts what `zkdr run` really takes, reads the EnvironmentFile the
// package installs, and gives the daemon writable places for what the example
// config and the daemon write: the divergence directory and the active-connect
// file. zkdr has no reload (no SIGHUP handler), so there is no ExecReload.
func TestSystemdUnitMatchesDaemon(t *testing.T) {
	u := parseUnit(t, unitFile)
	exec1 := strings.Fields(u.one(t, "Service", "ExecStart"))
	if want := []string{"/usr/bin/zkdr", "run", "--config", "/etc/zkdr/zkdr.hcl"}; strings.Join(exec1, " ") != strings.Join(want, " ") {
		t.Fatalf("ExecStart=%s, want %s", strings.Join(exec1, " "), strings.Join(want, " "))
	}
	if got := u.one(t, "Service", "EnvironmentFile"); got != "-/etc/default/zkdr" {
		t.Errorf("EnvironmentFile=%s", got)
	}
	if _, ok := u["Service"]["ExecReload"]; ok {
		t.Error("ExecReload= is set, but zkdr reads its config only at start")
	}
	// `zkdr run -h` lists the flags ExecStart uses.
	out, _ := exec.Command(zkdrBinary(t), "run", "-h").CombinedOutput()
	for _, arg := range exec1[2:] {
		if strings.HasPrefix(arg, "--") && !strings.Contains(string(out), "-"+strings.TrimLeft(arg, "-")+" ") {
			t.Errorf("zkdr run has no flag %s:\n%s", arg, out)
		}
	}
	state := "/var/lib/" + u.one(t, "Service", "StateDirectory")
	if wd := u.one(t, "Service", "WorkingDirectory"); wd != state {
		t.Errorf("WorkingDirectory=%s, want the state directory %s", wd, state)
	}
	var divergence string
	for _, e := range u["Service"]["Environment"] {
		if v, ok := strings.CutPrefix(e, "ZKDR_DIVERGENCE_DIR="); ok {
			divergence = v
		}
	}
	if !strings.HasPrefix(divergence, state+"/") {
		t.Errorf("ZKDR_DIVERGENCE_DIR=%q is not under %s", divergence, state)
	}
	cfg := loadExampleConfig(t)
	runtime := "/run/" + u.one(t, "Service", "RuntimeDirectory") + "/"
	if cfg.Failover.ActiveConnectFile != "" && !strings.HasPrefix(cfg.Failover.ActiveConnectFile, runtime) {
		t.Errorf("the example config writes %s, outside the unit's RuntimeDirectory %s", cfg.Failover.ActiveConnectFile, runtime)
	}
}

var envCall = regexp.MustCompile(`env\("([A-Z0-9_]+)"`)

// envCalls returns the variables src reads with env(), comments left out.
func envCalls(src []byte) []string {
	var names []string
	for _, l := range strings.Split(string(src), "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		for _, m := range envCall.FindAllStringSubmatch(l, -1) {
			names = append(names, m[1])
		}
	}
	return names
}

func loadExampleConfig(t *testing.T) *configs.Config {
	t.Helper()
	src, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range envCalls(src) {
		t.Setenv(name, "zkdr:example")
	}
	cfg, err := configs.Load(configFile)
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the example config is not valid: %v", err)
	}
	return cfg
}

// The config installed as /etc/zkdr/zkdr.hcl loads and validates, reads its
// secrets with env(), and the EnvironmentFile names every one of them.
func TestExampleConfig(t *testing.T) {
	cfg := loadExampleConfig(t)
	if cfg.ZooKeeper.Auth.Reveal() != "zkdr:example" || cfg.Peer.ZooKeeper.Auth.Reveal() != "zkdr:example" {
		t.Error("the example config does not read the ZooKeeper credentials from the environment")
	}
	if cfg.Metrics.Listen == "" {
		t.Error("the example config serves no metrics: the rules and the dashboard need them")
	}
	src, _ := os.ReadFile(configFile)
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	names := envCalls(src)
	if len(names) == 0 {
		t.Errorf("%s reads no secret with env()", configFile)
	}
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^#?` + name + `=`).Match(env) {
			t.Errorf("%s reads %s, which %s does not show", configFile, name, envFile)
		}
	}
	// Only comments: an installed default file sets nothing by itself.
	for i, l := range strings.Split(string(env), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			t.Errorf("%s:%d sets a variable: %q", envFile, i+1, l)
		}
	}
}

func promtool(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(promtoolPath); err != nil {
		t.Skipf("%s not found: Debian's prometheus package has it (scripts/deps.sh installs it)", promtoolPath)
	}
	return promtoolPath
}

// promtool accepts the rules, and their unit tests pass.
func TestPrometheusRules(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTest}} {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s: %s", strings.Join(args, " "), bytes.TrimSpace(out))
	}
}

// alertBlock is one rule of the rules file, as text.
type alertBlock struct {
	name string
	text string
}

func readAlerts(t *testing.T) []alertBlock {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []alertBlock
	parts := regexp.MustCompile(`(?m)^\s*- alert: `).Split(string(b), -1)
	for _, p := range parts[1:] {
		name, rest, _ := strings.Cut(p, "\n")
		out = append(out, alertBlock{name: strings.TrimSpace(name), text: rest})
	}
	if len(out) == 0 {
		t.Fatal("no alerts in the rules file")
	}
	return out
}

// githubAnchors returns the anchors a Markdown renderer gives the headings of
// a file: lower case, punctuation dropped, spaces as hyphens.
func githubAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	anchors := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		h = drop.ReplaceAllString(strings.ToLower(h), "")
		anchors[strings.ReplaceAll(h, " ", "-")] = true
	}
	return anchors
}

// Every alert says how bad it is and what it means, links to a runbook
// section that exists, and is tested both firing and not firing.
func TestAlertsAreDocumentedAndTested(t *testing.T) {
	anchors := githubAnchors(t, runbook)
	testSrc, err := os.ReadFile(rulesTest)
	if err != nil {
		t.Fatal(err)
	}
	// Each eval of the test file: its alertname, and whether it expects alerts.
	firing, quiet := map[string]bool{}, map[string]bool{}
	evals := regexp.MustCompile(`(?m)^\s*- eval_time: `).Split(string(testSrc), -1)
	alertname := regexp.MustCompile(`(?m)^\s*alertname: (\S+)`)
	for _, e := range evals[1:] {
		m := alertname.FindStringSubmatch(e)
		if m == nil {
			continue
		}
		if regexp.MustCompile(`(?m)^\s*exp_alerts: \[\]`).MatchString(e) {
			quiet[m[1]] = true
		} else if strings.Contains(e, "exp_labels:") {
			firing[m[1]] = true
		}
	}
	severity := regexp.MustCompile(`(?m)^\s*severity: (critical|warning|info)\s*$`)
	runbookURL := regexp.MustCompile(`(?m)^\s*runbook_url: "docs/runbook\.md#([a-z0-9-]+)"\s*$`)
	seen := map[string]bool{}
	for _, a := range readAlerts(t) {
		if seen[a.name] {
			t.Errorf("alert %s is defined twice", a.name)
		}
		seen[a.name] = true
		if !severity.MatchString(a.text) {
			t.Errorf("%s: no severity label (critical, warning or info)", a.name)
		}
		for _, ann := range []string{"summary:", "description:"} {
			if !strings.Contains(a.text, ann) {
				t.Errorf("%s: no %s annotation", a.name, strings.TrimSuffix(ann, ":"))
			}
		}
		m := runbookURL.FindStringSubmatch(a.text)
		switch {
		case m == nil:
			t.Errorf("%s: no runbook_url into docs/runbook.md", a.name)
		case !anchors[m[1]]:
			t.Errorf("%s: runbook_url anchor #%s is not a heading of %s", a.name, m[1], runbook)
		}
		if !firing[a.name] || !quiet[a.name] {
			t.Errorf("%s: %s tests it firing: %t, not firing: %t", a.name, rulesTest, firing[a.name], quiet[a.name])
		}
	}
}

// The dashboard is Grafana JSON over a datasource variable, with the site
// variable in its queries.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["site"] != "query" {
		t.Fatalf("template variables %v: want a datasource variable and a site query", vars)
	}
	ids := map[int]string{}
	var exprs []string
	for _, p := range d.Panels {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 {
			t.Errorf("panel %q: gridPos %+v is outside 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %q, want ${datasource}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource.UID != "${datasource}" || strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q: query %s on datasource %q", p.Title, q.RefID, q.Datasource.UID)
			}
			exprs = append(exprs, q.Expr)
			if strings.Contains(q.Expr, "zkdr_") && !strings.Contains(q.Expr, `site=~"$site"`) {
				t.Errorf("panel %q: query %q ignores the site variable", p.Title, q.Expr)
			}
		}
	}
	sort.Strings(exprs)
	t.Logf("%d panels, %d queries", len(d.Panels), len(exprs))
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}
