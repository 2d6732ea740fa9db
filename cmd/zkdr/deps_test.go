package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestBinaryDoesNotLinkTesting: the harnesses `zkdr dev` starts its servers with
// (internal/zkserver, internal/natsserver) keep their test helpers off the
// testing package, so the binary does not carry it.
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{"testing", "github.com/zkdr/zkdr/internal/testcerts"} {
		if slices.Contains(deps, banned) {
			t.Errorf("cmd/zkdr depends on %s", banned)
		}
	}
}
