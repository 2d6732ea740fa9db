package main

import (
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/configs"
)

// newLogger builds the process logger from a config's log block; jsonFlag
// forces JSON output.
func newLogger(c configs.Log, jsonFlag bool, w io.Writer) hclog.Logger {
	if w == nil {
		w = os.Stderr
	}
	level := hclog.LevelFromString(c.Level)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       "zkdr",
		Level:      level,
		Output:     w,
		JSONFormat: jsonFlag || c.Format == "json",
	})
}
