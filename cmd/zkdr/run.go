package main

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/failover"
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
	logger := newLogger(cfg.Log, *logJSON, nil)
	d, err := failover.NewDaemon(cfg, logger)
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
