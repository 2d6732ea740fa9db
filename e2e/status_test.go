package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
)

// zkdr status and journal info show both sites' numbers in a running pair, and
// no credential appears in their output.
func TestStatusAndJournalInfo(t *testing.T) {
	metricsAddr := freeAddr(t)
	p := newPair(t, withConfig(func(site string, c *configs.Config) {
		if site == "west" {
			c.Metrics.Listen = metricsAddr
		}
	}))
	mustCreate(t, p.conn["east"], "/st", []byte("x"), 0, nil)
	p.start("east")
	p.startProcess("west")
	p.waitConverged(2 * time.Minute)
	waitFor(t, time.Minute, "a watermark on west", func() bool { return readCheckpoint(t, p.conn["west"]).WatermarkZxid != 0 })

	cfg := p.configFile("east")
	out, err := p.zkdr("status", "--config", cfg, "--json")
	if err != nil {
		t.Fatalf("zkdr status: %v\n%s", err, out)
	}
	var sites []struct {
		Site      string
		Reachable bool
		Role      string
		Epoch     uint64
		Journal   *struct {
			LastSeq uint64 `json:"last_seq"`
		}
		Mirror *struct {
			LastSeq uint64 `json:"last_seq"`
		}
		AppliedSeq uint64 `json:"applied_seq"`
		Watermark  *struct {
			Zxid   int64
			LagSec float64 `json:"lag_seconds"`
		}
	}
	if err := json.Unmarshal([]byte(out), &sites); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	if len(sites) != 2 || sites[0].Site != "east" || sites[1].Site != "west" {
		t.Fatalf("status sites: %s", out)
	}
	e, w := sites[0], sites[1]
	if !e.Reachable || e.Role != "active" || e.Epoch != 1 || e.Journal == nil || e.Journal.LastSeq == 0 {
		t.Fatalf("east status: %s", out)
	}
	if !w.Reachable || w.Role != "standby" || w.Mirror == nil || w.AppliedSeq == 0 || w.Watermark == nil || w.Watermark.Zxid == 0 {
		t.Fatalf("west status: %s", out)
	}
	text, err := p.zkdr("status", "--config", cfg)
	if err != nil || !strings.Contains(text, "WATERMARK") {
		t.Fatalf("zkdr status (table): %v\n%s", err, text)
	}
	info, err := p.zkdr("journal", "info", "--config", p.configFile("west"))
	if err != nil || !strings.Contains(info, "mirror of ZKDR_east") {
		t.Fatalf("zkdr journal info: %v\n%s", err, info)
	}
	events, err := p.zkdr("journal", "inspect", "--config", cfg, "-n", "0")
	if err != nil || !strings.Contains(events, `path="/st"`) || !strings.Contains(events, "kind=heartbeat") {
		t.Fatalf("zkdr journal inspect: %v\n%s", err, events)
	}
	metrics := httpGet(t, "http://"+metricsAddr+"/metrics", 200)
	for _, want := range []string{`zkdr_role{role="standby",site="west"} 1`, "zkdr_replication_lag_seconds{", "zkdr_applier_applied_sequence{", "zkdr_delete_guard_paused{site=\"west\"} 0"} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	health := httpGet(t, "http://"+metricsAddr+"/healthz", 200)
	secret := strings.SplitN(superAuth, ":", 2)[1]
	for name, o := range map[string]string{"status": out + text, "journal info": info, "journal inspect": events, "metrics": metrics + health} {
		if strings.Contains(o, secret) {
			t.Fatalf("zkdr %s printed the ZooKeeper credential", name)
		}
	}
	t.Logf("zkdr status:\n%s", text)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// httpGet polls url until it answers with status want and returns the body.
func httpGet(t *testing.T, url string, want int) string {
	t.Helper()
	var body string
	waitFor(t, time.Minute, url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == want
	})
	return body
}
