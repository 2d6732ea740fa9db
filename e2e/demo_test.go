package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// `make demo` runs `zkdr dev`: two ZooKeeper sites and embedded NATS,
// replicating with live status. With --for it stops, checks that west
// converged with east and exits non-zero if not.
func TestDevDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts ZooKeeper and NATS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, zkdrBin, "dev", "--for", "8s").CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("zkdr dev --for 8s: %v\n%s", err, text)
	}
	for _, want := range []string{"east active", "west standby", "watermark 0x", "converged: west equals east"} {
		if !strings.Contains(text, want) {
			t.Fatalf("zkdr dev output lacks %q:\n%s", want, text)
		}
	}
	t.Logf("zkdr dev:\n%s", text)
}
