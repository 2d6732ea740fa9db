package bench

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/zkdr/zkdr/internal/zkconn"
)

// Machine is what the figures were measured on.
type Machine struct {
	CPUs        int    `json:"cpus"`
	MemoryMB    int    `json:"memory_mb"`
	OS          string `json:"os"`
	Kernel      string `json:"kernel,omitempty"`
	GoVersion   string `json:"go_version"`
	ZooKeeper   string `json:"zookeeper_version"`
	Java        string `json:"java,omitempty"`
	LoadAverage string `json:"load_average_at_start,omitempty"`
	// LoadDuring sums up the one-minute load average sampled through the run.
	LoadDuring string `json:"load_average_during,omitempty"`
	CPUModel   string `json:"cpu_model,omitempty"`
}

// describeMachine gathers Machine; zkAddr is a running ZooKeeper to ask its version.
func describeMachine(ctx context.Context, zkAddr string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				m.MemoryMB = kb / 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAverage = strings.Join(f[:3], " ")
		}
	}
	if v, ok := os.LookupEnv("JAVA_VERSION"); ok {
		m.Java = v
	}
	if srvr, err := zkconn.FourLetter(ctx, zkAddr, "srvr"); err == nil {
		for _, line := range strings.Split(srvr, "\n") {
			if v, ok := strings.CutPrefix(line, "Zookeeper version: "); ok {
				// "3.8.0-<commit>, built on <date>": the release is what matters.
				v, _, _ = strings.Cut(v, ",")
				v, _, _ = strings.Cut(v, "-")
				m.ZooKeeper = strings.TrimSpace(v)
			}
		}
	}
	return m
}
