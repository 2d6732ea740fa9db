//go:build !unix

package failover

import "os/exec"

// killGroup: outside Unix only the command itself is killed on cancellation.
func killGroup(*exec.Cmd) {}
