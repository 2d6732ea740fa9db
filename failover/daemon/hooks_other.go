//go:build !unix

package daemon

import "os/exec"

// killGroup: outside Unix only the command itself is killed on cancellation.
func killGroup(*exec.Cmd) {}
