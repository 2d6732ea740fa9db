package e2e

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
)

// The files under deploy/ that query the daemon's metrics.
const (
	deployRulesFile     = "../deploy/prometheus/zkdr-rules.yml"
	deployRulesTestFile = "../deploy/prometheus/zkdr-rules_test.yml"
	deployDashboardFile = "../deploy/grafana/zkdr.json"
)

var zkdrMetricName = regexp.MustCompile(`\bzkdr_[a-z0-9_]*[a-z0-9]\b`)

// exposedMetricNames returns the metric names in a Prometheus text exposition.
func exposedMetricNames(text string) map[string]bool {
	names := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, "# TYPE "); ok {
			if name, _, ok := strings.Cut(rest, " "); ok {
				names[name] = true
			}
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

// dashboardExprs returns every PromQL expression of a Grafana dashboard: the
// panels' queries (rows' panels too) and the query variables.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			if key == "expr" || key == "query" || key == "definition" {
				exprs = append(exprs, v)
			}
		}
	}
	walk(d, "")
	return exprs
}

// usedMetricNames returns the zkdr_ metric names in the rules, their tests and
// the dashboard's queries, each with the files that use it.
func usedMetricNames(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	add := func(where, text string) {
		for _, n := range zkdrMetricName.FindAllString(text, -1) {
			used[n] = append(used[n], where)
		}
	}
	// The whole of the rules and their tests: expressions, test series, and
	// any metric an annotation or a comment names.
	for _, f := range []string{deployRulesFile, deployRulesTestFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(f, string(b))
	}
	for _, e := range dashboardExprs(t, deployDashboardFile) {
		add(deployDashboardFile, e)
	}
	return used
}

// Every metric the shipped alert rules and the Grafana dashboard query is one
// that a running pair of daemons exports (both roles, after an anti-entropy
// pass), so the three cannot drift apart; the metrics also say which build
// runs, as /healthz and `zkdr version` do.
func TestDeployMetricsExist(t *testing.T) {
	used := usedMetricNames(t)
	if len(used) < 10 {
		t.Fatalf("found only %d zkdr metric names in the rules and the dashboard: %v", len(used), used)
	}

	addr := map[string]string{"east": freeAddr(t), "west": freeAddr(t)}
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		c.AntiEntropy.Interval = time.Second
		c.AntiEntropy.ReadsPerSecond = 2000
	}))
	mustCreate(t, p.conn["east"], "/deploy", []byte("x"), 0, nil)
	mctx, stopMetrics := context.WithCancel(context.Background())
	t.Cleanup(stopMetrics)
	for _, s := range []string{"east", "west"} {
		d := p.start(s).d
		go func() { _ = d.ServeMetrics(mctx, addr[s]) }()
	}
	p.waitConverged(2 * time.Minute)

	// Everything a standby exports appears once its first anti-entropy pass
	// is complete; the active site's source metrics once it has walked.
	scrape := map[string]string{}
	waitFor(t, 2*time.Minute, "source, applier and anti-entropy metrics", func() bool {
		for _, s := range []string{"east", "west"} {
			scrape[s] = httpGet(t, "http://"+addr[s]+"/metrics", 200)
		}
		return strings.Contains(scrape["east"], "zkdr_source_recursive_watch{") &&
			strings.Contains(scrape["west"], "zkdr_replication_lag_seconds{") &&
			strings.Contains(scrape["west"], "zkdr_antientropy_last_pass_timestamp_seconds{")
	})
	exported := map[string]bool{}
	for _, s := range []string{"east", "west"} {
		for n := range exposedMetricNames(scrape[s]) {
			exported[n] = true
		}
	}
	var missing []string
	for name, where := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && exported[b] {
				base = b
			}
		}
		if !exported[base] {
			sort.Strings(where)
			missing = append(missing, name+" (in "+strings.Join(compactStrings(where), ", ")+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		var names []string
		for n := range exported {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("the deploy files use metrics no daemon exports:\n  %s\nexported: %s", strings.Join(missing, "\n  "), strings.Join(names, " "))
	}
	t.Logf("%d metric names used by the rules and the dashboard, all among the %d exported", len(used), len(exported))

	// Build information: the metric, /healthz, and the binary's own word.
	for _, s := range []string{"east", "west"} {
		want := `zkdr_build_info{goversion="` + runtime.Version() + `",revision="`
		if !strings.Contains(scrape[s], want) || !regexp.MustCompile(`zkdr_build_info\{[^}]*site="`+s+`"[^}]*version="[^"]+"\} 1\n`).MatchString(scrape[s]) {
			t.Errorf("%s /metrics has no zkdr_build_info with its Go version, site and version:\n%s", s, scrape[s])
		}
		var health struct {
			Site  string  `json:"site"`
			Role  string  `json:"role"`
			Epoch *uint64 `json:"epoch"`
			Build *struct {
				Version   string `json:"version"`
				Revision  string `json:"revision"`
				Time      string `json:"time"`
				Modified  *bool  `json:"modified"`
				GoVersion string `json:"go_version"`
			} `json:"build"`
			ApplierStart string `json:"applier_start"`
		}
		body := httpGet(t, "http://"+addr[s]+"/healthz", 200)
		if err := json.Unmarshal([]byte(body), &health); err != nil {
			t.Fatalf("%s /healthz: %v\n%s", s, err, body)
		}
		if health.Site != s || health.Role == "" || health.Epoch == nil || health.Build == nil ||
			health.Build.Version == "" || health.Build.GoVersion != runtime.Version() || health.Build.Modified == nil {
			t.Errorf("%s /healthz: %s", s, body)
		}
		// The standby's applier says how it came to know the standby; the
		// active site has none.
		if standby := s == "west"; standby != (health.ApplierStart == "warm" || strings.HasPrefix(health.ApplierStart, "cold: ")) {
			t.Errorf("%s /healthz applier_start %q", s, health.ApplierStart)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, stderr, err := runZkdr(args...)
		if err != nil || !strings.HasPrefix(out, "zkdr ") || !strings.Contains(out, "\n  go        "+runtime.Version()+"\n") {
			t.Errorf("zkdr %s: %v\n%s%s", args[0], err, out, stderr)
		}
	}
	out, _, err := runZkdr("version", "--json")
	var v struct {
		Version   string `json:"version"`
		GoVersion string `json:"go_version"`
	}
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.GoVersion != runtime.Version() {
		t.Errorf("zkdr version --json: %v\n%s", err, out)
	}
}

// compactStrings drops repeats from a sorted list.
func compactStrings(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
