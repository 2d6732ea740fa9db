package zkserver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNoLeakWhenParentDies runs a child copy of this test binary that starts a
// server, kills the child with SIGKILL, and checks the java process goes with it.
func TestNoLeakWhenParentDies(t *testing.T) {
	if dir := os.Getenv("ZKSERVER_LEAK_CHILD"); dir != "" {
		c, err := Start(Config{Dir: dir})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("PID", c.PID(0))
		select {} // until killed
	}
	if testing.Short() {
		t.Skip("starts java")
	}
	child := exec.Command(os.Args[0], "-test.run=^TestNoLeakWhenParentDies$", "-test.timeout=2m")
	child.Env = append(os.Environ(), "ZKSERVER_LEAK_CHILD="+t.TempDir())
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(p)
			break
		}
		t.Log("child:", sc.Text())
	}
	if pid == 0 {
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatal("child did not report a server pid")
	}
	if !alive(pid) {
		t.Fatalf("server %d not running while the child lives", pid)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("server %d outlived its parent", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
