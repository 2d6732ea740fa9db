package zkconn

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug}))
	l.Printf("connected to %s", "127.0.0.1:2181")
	l.Printf("failed to connect to %s: %v", "127.0.0.1:2181", "refused")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "[DEBUG]") || !strings.Contains(lines[0], "connected to 127.0.0.1:2181") ||
		!strings.Contains(lines[1], "[WARN]") {
		t.Fatalf("log:\n%s", buf.String())
	}
}
