package main

import (
	"context"
	"errors"

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
	return d.Run(ctx)
}

// loadConfig loads --config; its errors already name file, line and field.
func loadConfig(path string) (*configs.Config, error) {
	if path == "" {
		return nil, &exitError{code: 2, err: errors.New("--config FILE is required")}
	}
	return configs.Load(path)
}
