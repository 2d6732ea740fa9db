package main

import (
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/ratelog"
)

// newLogger builds the process logger from a config's log block; jsonFlag
// forces JSON output. Repeats of a message within 10 s are counted and written
// as one line when the window ends, so a retry loop during an outage does not
// bury the lines that matter; call Flush before exiting.
func newLogger(c configs.Log, jsonFlag bool, w io.Writer) *ratelog.Logger {
	if w == nil {
		w = os.Stderr
	}
	level := hclog.LevelFromString(c.Level)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return ratelog.New(hclog.New(&hclog.LoggerOptions{
		Name:       "zkdr",
		Level:      level,
		Output:     w,
		JSONFormat: jsonFlag || c.Format == "json",
	}), ratelog.DefaultConfig())
}
