package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover/daemon"
	"github.com/zkdr/zkdr/internal/progress"
)

func init() {
	register("run", "the site daemon: source when active, applier when standby", runDaemon)
}

func runDaemon(ctx context.Context, args []string) error {
	fs := newFlags("run")
	path := fs.String("config", "", "site config file (HCL)")
	logJSON := fs.Bool("log-json", false, "log in JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	out := &barSafeWriter{w: os.Stderr}
	logger := newLogger(cfg.Log, *logJSON, out)
	defer logger.Flush()
	tuneGC(logger)
	d, err := daemon.NewDaemon(cfg, logger)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if cfg.Metrics.Listen != "" {
		g.Go(func() error {
			if err := d.ServeMetrics(ctx, cfg.Metrics.Listen); err != nil {
				return fmt.Errorf("metrics on %s: %w", cfg.Metrics.Listen, err)
			}
			return nil
		})
		logger.Info("serving /metrics and /healthz", "listen", cfg.Metrics.Listen)
	}
	g.Go(func() error { watchBootstrap(ctx, d, out, logger); return nil })
	g.Go(func() error { return d.Run(ctx) })
	return g.Wait()
}

// loadConfig loads --config; its errors already name file, line and field.
func loadConfig(path string) (*configs.Config, error) {
	if path == "" {
		return nil, &exitError{code: 2, err: errors.New("--config FILE is required")}
	}
	return configs.Load(path)
}

// bootstrapLogEvery is how often a daemon whose stderr is not a terminal logs
// the progress of a bootstrap walk.
const bootstrapLogEvery = 10 * time.Second

// watchBootstrap shows the progress of the source's first walk of the tree (a
// bootstrap, after a start or a promotion), which reads every node and can
// take minutes on a large tree. On a terminal it draws a counter with a rate
// on out; otherwise (systemd, a file) it logs a line every 10 s, so JSON logs
// stay JSON. It polls the daemon's status until ctx ends.
func watchBootstrap(ctx context.Context, d *daemon.Daemon, out *barSafeWriter, logger hclog.Logger) {
	terminal := progress.IsTerminal(out.w)
	var (
		r        *progress.Reporter
		started  time.Time
		lastLine time.Time
	)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	defer func() { out.setReporter(nil); r.Finish() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		src := d.Status().Source
		walking := src != nil && src.Walking && !src.Bootstrapped
		switch {
		case walking && started.IsZero():
			started, lastLine = time.Now(), time.Now()
			if terminal {
				r = progress.New(out.w, "bootstrap walk", 0, "nodes")
				out.setReporter(r)
			}
		case !walking && !started.IsZero():
			if src != nil {
				r.Set(int64(src.WalkNodes))
			}
			out.setReporter(nil)
			r.Finish() // the source logs "walk finished" itself
			r, started = nil, time.Time{}
			continue
		case !walking:
			continue
		}
		r.Set(int64(src.WalkNodes))
		if !terminal && time.Since(lastLine) >= bootstrapLogEvery {
			lastLine = time.Now()
			el := time.Since(started)
			logger.Info("bootstrap walk in progress", "nodes", src.WalkNodes,
				"nodes-per-second", int64(float64(src.WalkNodes)/el.Seconds()), "elapsed", el.Round(time.Second))
		}
	}
}

// barSafeWriter is the log output: while a progress bar is on the terminal,
// each log line clears it first.
type barSafeWriter struct {
	w  io.Writer
	mu sync.Mutex
	r  *progress.Reporter
}

func (b *barSafeWriter) setReporter(r *progress.Reporter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.r = r
}

func (b *barSafeWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.r.WriteAbove(b.w, p)
}
