package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// packageVersion is the shape of deploy/version.sh's versions.
var packageVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+([0-9]+\.g[0-9a-f]{12}|unknown))?(\.dirty)?$`)

// The version script makes versions dpkg accepts and orders by commit count.
func TestVersionScript(t *testing.T) {
	v := strings.TrimSpace(mustRun(t, time.Minute, "./version.sh"))
	if !packageVersion.MatchString(v) {
		t.Fatalf("deploy/version.sh printed %q", v)
	}
	if _, err := exec.LookPath("dpkg"); err == nil {
		if out, err := runCmd(t, time.Minute, "dpkg", "--compare-versions", "0.0.0+9.g000000000000", "lt", "0.0.0+10.g000000000000"); err != nil {
			t.Errorf("dpkg orders commit counts as text: %v %s", err, out)
		}
		if out, err := runCmd(t, time.Minute, "dpkg", "--validate-version", v); err != nil {
			t.Errorf("dpkg rejects %q: %v %s", v, err, out)
		}
	}
	t.Logf("version %s", v)
}

// runCmd runs a command with a bound and returns its combined output.
func runCmd(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := runCmd(t, timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// installed reports whether dpkg has the zkdr package (configured or not).
func installed(t *testing.T) bool {
	out, err := runCmd(t, time.Minute, "dpkg-query", "-W", "-f=${db:Status-Status}", "zkdr")
	return err == nil && strings.TrimSpace(out) != "not-installed" && strings.TrimSpace(out) != ""
}

// fileMode checks path's permission bits and owner names.
func fileMode(t *testing.T, path string, mode os.FileMode, owner, group string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), mode)
	}
	st := fi.Sys().(*syscall.Stat_t)
	u := strings.TrimSpace(mustRun(t, time.Minute, "id", "-nu", fmt.Sprint(st.Uid)))
	g := strings.TrimSpace(mustRun(t, time.Minute, "getent", "group", fmt.Sprint(st.Gid)))
	g, _, _ = strings.Cut(g, ":")
	if u != owner || g != group {
		t.Errorf("%s: owned by %s:%s, want %s:%s", path, u, g, owner, group)
	}
}

func sameFile(t *testing.T, installedPath, repoPath string) {
	t.Helper()
	a, err := os.ReadFile(installedPath)
	if err != nil {
		t.Errorf("%s: %v", installedPath, err)
		return
	}
	b, err := os.ReadFile(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("%s differs from %s", installedPath, repoPath)
	}
}

// `make package` builds a .deb that installs the binary, the unit, the config
// and the environment file with the right owners, creates the zkdr user, and
// leaves nothing behind when purged. It installs into this machine, so it runs
// as root on a machine without a running systemd (CI, a container), or where
// ZKDR_TEST_DPKG=1 says a real host may be used.
func TestDebPackageInstallsAndPurges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs a package")
	}
	if os.Geteuid() != 0 {
		t.Skip("installs the package with dpkg: run as root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query", "make", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: not a Debian machine", tool)
		}
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil && os.Getenv("ZKDR_TEST_DPKG") != "1" {
		t.Skip("systemd runs here: this host may run zkdr for real; ZKDR_TEST_DPKG=1 lets the test install and purge the zkdr package")
	}
	if installed(t) {
		t.Log("a zkdr package is installed (a previous run?): purging it first")
		mustRun(t, 5*time.Minute, "dpkg", "--purge", "zkdr")
	}
	t.Cleanup(func() {
		if installed(t) {
			out, err := runCmd(t, 5*time.Minute, "dpkg", "--purge", "zkdr")
			if err != nil {
				t.Errorf("dpkg --purge zkdr: %v\n%s", err, out)
			}
		}
	})

	dir := t.TempDir()
	start := time.Now()
	// A make of its own: not a sub-make of one that runs the tests.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	mk := exec.CommandContext(ctx, "make", "-C", "..", "package", "PKG_DIR="+dir)
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			mk.Env = append(mk.Env, e)
		}
	}
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	t.Logf("make package took %s", time.Since(start).Round(100*time.Millisecond))
	debs, _ := filepath.Glob(filepath.Join(dir, "zkdr_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("make package made %v, want one zkdr_*_amd64.deb", debs)
	}
	deb := debs[0]
	version := strings.TrimSpace(mustRun(t, time.Minute, "dpkg-deb", "-f", deb, "Version"))
	if !packageVersion.MatchString(version) {
		t.Errorf("package version %q is not what deploy/version.sh makes", version)
	}

	mustRun(t, 5*time.Minute, "dpkg", "-i", deb)

	// The binary says which build it is, in both spellings.
	out := mustRun(t, time.Minute, "/usr/bin/zkdr", "version")
	if first, _, _ := strings.Cut(out, "\n"); first != "zkdr "+version {
		t.Errorf("zkdr version starts %q, want %q:\n%s", first, "zkdr "+version, out)
	}
	for _, want := range []string{"revision ", "go        go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("zkdr version lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "revision  unknown") {
		t.Errorf("the packaged binary carries no VCS revision:\n%s", out)
	}
	if v := mustRun(t, time.Minute, "/usr/bin/zkdr", "--version"); v != out {
		t.Errorf("zkdr --version:\n%s\nzkdr version:\n%s", v, out)
	}

	// The user, and the files with their owners.
	pw := strings.TrimSpace(mustRun(t, time.Minute, "getent", "passwd", "zkdr"))
	f := strings.Split(pw, ":")
	if len(f) != 7 || f[5] != "/var/lib/zkdr" || !strings.HasSuffix(f[6], "nologin") {
		t.Errorf("zkdr user: %q", pw)
	}
	if g := strings.TrimSpace(mustRun(t, time.Minute, "id", "-gn", "zkdr")); g != "zkdr" {
		t.Errorf("zkdr's group is %q", g)
	}
	fileMode(t, "/usr/bin/zkdr", 0o755, "root", "root")
	fileMode(t, "/lib/systemd/system/zkdr.service", 0o644, "root", "root")
	fileMode(t, "/etc/zkdr", 0o750, "root", "zkdr")
	fileMode(t, "/etc/zkdr/zkdr.hcl", 0o640, "root", "zkdr")
	fileMode(t, "/etc/default/zkdr", 0o600, "root", "root")
	sameFile(t, "/lib/systemd/system/zkdr.service", unitFile)
	sameFile(t, "/etc/zkdr/zkdr.hcl", configFile)
	sameFile(t, "/etc/default/zkdr", envFile)
	sameFile(t, "/usr/share/doc/zkdr/examples/zkdr-rules.yml", rulesFile)
	sameFile(t, "/usr/share/doc/zkdr/examples/zkdr-dashboard.json", dashboard)
	for _, doc := range []string{"README.md", "runbook.md", "operations.md", "configuration.md", "security.md"} {
		if _, err := os.Stat("/usr/share/doc/zkdr/" + doc); err != nil {
			t.Error(err)
		}
	}
	conffiles := mustRun(t, time.Minute, "dpkg-query", "-W", "-f=${Conffiles}", "zkdr")
	for _, c := range []string{"/etc/zkdr/zkdr.hcl", "/etc/default/zkdr"} {
		if !strings.Contains(conffiles, c+" ") {
			t.Errorf("%s is not a conffile: %q", c, conffiles)
		}
	}
	// The installed unit verifies against the installed binary.
	if _, err := exec.LookPath(systemdTool); err == nil {
		if lines := verifyUnit(t, "/lib/systemd/system/zkdr.service"); len(lines) > 0 {
			t.Errorf("systemd-analyze verify on the installed unit:\n%s", strings.Join(lines, "\n"))
		}
	}
	// The daemon, as the zkdr user, reads its config: it stops at the first
	// secret missing from its environment (never at a permission error).
	cmd := exec.Command("runuser", "-u", "zkdr", "--", "/usr/bin/zkdr", "run", "--config", "/etc/zkdr/zkdr.hcl")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "environment variable ZKDR_ZK_AUTH is not set") {
		t.Errorf("zkdr run as zkdr with an empty environment: %v\n%s", err, b)
	}
	if b, err := exec.Command("runuser", "-u", "nobody", "--", "cat", "/etc/zkdr/zkdr.hcl").CombinedOutput(); err == nil {
		t.Errorf("another user reads /etc/zkdr/zkdr.hcl:\n%s", b)
	}

	// Reinstalling (what an upgrade runs) keeps an edited config and its owners.
	edited := "\n# edited by the operator\n"
	fh, err := os.OpenFile("/etc/zkdr/zkdr.hcl", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fh.WriteString(edited)
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, 5*time.Minute, "dpkg", "-i", "--force-confold", deb)
	if b, _ := os.ReadFile("/etc/zkdr/zkdr.hcl"); !strings.HasSuffix(string(b), edited) {
		t.Error("reinstalling the package replaced the edited /etc/zkdr/zkdr.hcl")
	}
	fileMode(t, "/etc/zkdr/zkdr.hcl", 0o640, "root", "zkdr")

	// Purge: every file goes, and so do the state and the owner overrides.
	mustRun(t, 5*time.Minute, "dpkg", "--purge", "zkdr")
	for _, p := range []string{
		"/usr/bin/zkdr", "/lib/systemd/system/zkdr.service", "/etc/zkdr/zkdr.hcl", "/etc/zkdr",
		"/etc/default/zkdr", "/usr/share/doc/zkdr", "/var/lib/zkdr",
	} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after dpkg --purge (%v)", p, err)
		}
	}
	if out, _ := runCmd(t, time.Minute, "dpkg-statoverride", "--list"); strings.Contains(out, "/etc/zkdr") {
		t.Errorf("dpkg-statoverride still lists /etc/zkdr after the purge:\n%s", out)
	}
	if installed(t) {
		t.Error("dpkg still lists zkdr after the purge")
	}
}
