package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuClock is the kernel's clock tick for /proc/PID/stat times (USER_HZ, 100
// on every Linux the bench runs on).
const cpuClock = 100

// cpuTime is the user+system CPU time a process has used so far, 0 if unknown.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / cpuClock
}

// cpuMeter measures the share of a core some processes used over a span.
type cpuMeter struct {
	pids  map[string]int
	start map[string]time.Duration
	at    time.Time
}

func newCPUMeter(pids map[string]int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: map[string]time.Duration{}, at: time.Now()}
	for name, pid := range pids {
		m.start[name] = cpuTime(pid)
	}
	return m
}

// shares returns, per process, the CPU time used since newCPUMeter divided by
// the wall time: 1.0 is one core busy the whole span.
func (m *cpuMeter) shares() map[string]float64 {
	wall := time.Since(m.at).Seconds()
	out := map[string]float64{}
	for name, pid := range m.pids {
		if wall > 0 {
			out[name] = (cpuTime(pid) - m.start[name]).Seconds() / wall
		}
	}
	return out
}

// loadAverage is the one-minute load average, "" if unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// vmHWM is the peak resident memory of a process in MiB, 0 if unknown.
func vmHWM(pid int) float64 { return procStatusMB(pid, "VmHWM:") }

// rssMB is the resident memory of a process in MiB, 0 if unknown.
func rssMB(pid int) float64 { return procStatusMB(pid, "VmRSS:") }

func procStatusMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
