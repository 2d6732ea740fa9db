package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover"
	"github.com/zkdr/zkdr/internal/progress"
)

// failoverArgs are the flags promote and switchover share.
type failoverArgs struct {
	fs     *flag.FlagSet
	config *string
	json   *bool
}

func newFailoverArgs(name, configUsage string) *failoverArgs {
	fs := newFlags(name)
	return &failoverArgs{
		fs:     fs,
		config: fs.String("config", "", configUsage),
		json:   fs.Bool("json", false, "print the report as JSON"),
	}
}

// parse parses args and loads the config; the logger writes to stderr, so
// stdout holds only the report.
func (a *failoverArgs) parse(args []string) (*configs.Config, hclog.Logger, error) {
	if err := a.fs.Parse(args); err != nil {
		return nil, nil, err
	}
	cfg, err := loadConfig(*a.config)
	if err != nil {
		return nil, nil, err
	}
	return cfg, newLogger(cfg.Log, false, os.Stderr), nil
}

// print writes rep to stdout: as JSON with --json, else with text when
// asText is true.
func (a *failoverArgs) print(rep any, asText bool, text func(io.Writer)) {
	switch {
	case *a.json:
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	case asText:
		text(os.Stdout)
	}
}

// refused gives err exit status 3 when it is one of the refusals, so scripts
// tell "not done, nothing changed" from a failure.
func refused(err error, refusals ...error) error {
	for _, r := range refusals {
		if errors.Is(err, r) {
			return &exitError{code: 3, err: err}
		}
	}
	return err
}

// drainProgress shows a promotion's or switchover's waits for the standby's
// applier, one reporter per wait: a drain counts journal events applied
// towards the mirror's last sequence; a flush counts the active ensemble's
// transactions from the first watermark seen to the fence's zxid.
type drainProgress struct {
	w    io.Writer
	step string
	r    *progress.Reporter
	base int64 // flush: the watermark at the first poll
}

func newDrainProgress(w io.Writer) *drainProgress { return &drainProgress{w: w} }

// update is a failover.PromoteOptions/SwitchoverOptions Progress callback.
func (d *drainProgress) update(p failover.DrainProgress) {
	if p.Step != d.step {
		d.finish()
		d.step = p.Step
		if p.Step == "flush" {
			d.base = p.Watermark
			var total int64
			if p.TargetZxid>>32 == p.Watermark>>32 {
				total = p.TargetZxid - p.Watermark // same ZooKeeper epoch: a count of transactions
			}
			d.r = progress.New(d.w, fmt.Sprintf("flush to zxid %#x", p.TargetZxid), total, "txns")
		} else {
			d.r = progress.New(d.w, p.Step, int64(p.TargetSeq), "events")
		}
	}
	if p.Step == "flush" {
		d.r.Set(max(0, p.Watermark-d.base))
	} else {
		d.r.SetTotal(int64(p.TargetSeq))
		d.r.Set(int64(p.AppliedSeq))
	}
	if p.Done {
		d.finish()
	}
}

// finish ends the wait being shown, if any.
func (d *drainProgress) finish() {
	d.r.Finish()
	d.r, d.step = nil, ""
}
