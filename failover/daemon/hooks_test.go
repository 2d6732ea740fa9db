package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/replicator/applier"
)

func TestHooksGetTheirEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	connectFile := filepath.Join(dir, "active-connect")
	cfg := DefaultHooksConfig()
	cfg.Commands = [][]string{{"/bin/sh", "-c", `printf '%s|%s|%s|%s' "$ZKDR_SITE" "$ZKDR_ROLE" "$ZKDR_EPOCH" "$ZKDR_CONNECT" > "$OUT"; echo hello from the hook`}}
	cfg.ConnectFile = connectFile
	cfg.Logger = zktest.Logger(t, "hooks")
	t.Setenv("OUT", out)
	h, err := NewHooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	change := RoleChange{Site: "west", Role: site.RoleActive, Epoch: 7, Connect: "10.0.0.1:2181,10.0.0.2:2181"}
	if err := h.Fire(context.Background(), change); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "west|active|7|10.0.0.1:2181,10.0.0.2:2181"; string(got) != want {
		t.Fatalf("hook saw %q, want %q", got, want)
	}
	data, err := os.ReadFile(connectFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != change.Connect+"\n" {
		t.Fatalf("connect file holds %q", data)
	}
	// Rewriting replaces it and leaves no temporary files behind.
	change.Connect = "10.0.0.9:2181"
	if err := h.Fire(context.Background(), change); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(connectFile); string(data) != "10.0.0.9:2181\n" {
		t.Fatalf("connect file after rewrite holds %q", data)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

func TestHookFailuresAreReported(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	cfg := DefaultHooksConfig()
	cfg.Timeout = 500 * time.Millisecond
	cfg.Logger = zktest.Logger(t, "hooks")
	cfg.Commands = [][]string{
		{"/bin/sh", "-c", "echo broken >&2; exit 3"},
		// A shell whose child keeps the output pipe open: the whole group dies.
		{"/bin/sh", "-c", "sleep 60; echo never"},
		{"/nonexistent/hook"},
		{"/bin/sh", "-c", "touch " + marker},
	}
	h, err := NewHooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = h.Fire(context.Background(), RoleChange{Site: "east", Role: site.RoleFenced, Epoch: 2})
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("hooks took %s: the timeout did not stop the sleeping hook", took)
	}
	if !errors.Is(err, ErrHookFailed) {
		t.Fatalf("Fire: %v, want ErrHookFailed", err)
	}
	var hookErrs []*HookError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var he *HookError
		if !errors.As(e, &he) {
			t.Fatalf("not a *HookError: %v", e)
		}
		hookErrs = append(hookErrs, he)
	}
	if len(hookErrs) != 3 {
		t.Fatalf("got %d failures, want 3: %v", len(hookErrs), err)
	}
	if he := hookErrs[0]; he.ExitCode != 3 || he.TimedOut {
		t.Fatalf("exit 3 hook: %+v", he)
	}
	if he := hookErrs[1]; !he.TimedOut {
		t.Fatalf("sleeping hook: %+v, want timed out", he)
	}
	if he := hookErrs[2]; he.ExitCode != -1 || he.TimedOut {
		t.Fatalf("missing hook: %+v", he)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("a failing hook kept the later ones from running: %v", err)
	}
}

func TestHooksConfigValidate(t *testing.T) {
	cfg := DefaultHooksConfig()
	cfg.Commands = [][]string{{}}
	if _, err := NewHooks(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty command: %v", err)
	}
	cfg = DefaultHooksConfig()
	cfg.Timeout = 0
	if _, err := NewHooks(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("zero timeout: %v", err)
	}
}

func TestGuardHooksGetTheirEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	cfg := DefaultHooksConfig()
	cfg.Commands = [][]string{{"/bin/sh", "-c", `printf '%s|%s|%s|%s|%s|%s|%s' "$ZKDR_SITE" "$ZKDR_GUARD" "$ZKDR_GUARD_FIRST_SEQ" "$ZKDR_GUARD_DELETES" "$ZKDR_GUARD_SHRINK" "$ZKDR_GUARD_PEAK" "$ZKDR_GUARD_SINCE" > "$OUT"`}}
	cfg.Logger = zktest.Logger(t, "hooks")
	t.Setenv("OUT", out)
	h, err := NewHooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC)
	change := GuardChange{Site: "west", Guard: applier.GuardState{State: applier.GuardPaused, FirstSeq: 42, Deletes: 301, Shrink: 301, Peak: 302, Since: since}}
	if err := h.FireGuard(context.Background(), change); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "west|paused|42|301|301|302|2026-12-03T15:04:05Z"; string(got) != want {
		t.Fatalf("guard hook saw %q, want %q", got, want)
	}
}
