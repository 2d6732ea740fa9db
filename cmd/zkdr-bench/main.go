// Command zkdr-bench runs zkdr's benchmark scenarios side by side with the
// peers an operator would otherwise use, and prints a Markdown table and a
// JSON file. `make bench`, `make bench-quick` and `make bench-large` run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/cmd/zkdr-bench/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkdr-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("zkdr-bench", flag.ContinueOnError)
	preset := fs.String("preset", "full", "sizes: quick, full or large")
	out := fs.String("out", "bin/bench-results.json", "where to write the JSON results")
	cpuprofile := fs.String("cpuprofile", "", "directory for one CPU profile of the zkdr daemons per scenario")
	scenarios := fs.String("scenarios", "", "comma-separated subset of "+strings.Join(bench.AllScenarios, ","))
	nodes := fs.Int("nodes", 0, "override the tree size")
	churnDur := fs.Duration("churn-dur", 0, "override the steady load's duration")
	backlog := fs.Int("backlog", 0, "override the backlog size")
	burst := fs.Int("burst", 0, "override how many children the burst creates under one parent")
	burstPerMulti := fs.Int("burst-per-multi", 0, "override how many creates one of the burst's transactions holds")
	withWorkload := fs.Bool("workload", false, "add the application workload scenario (Kafka, locks, queues, service registry, Solr) to the preset's or -scenarios' list")
	workloadRate := fs.Int("workload-rate", 0, "override the application workload's operations/s (0: as fast as it goes)")
	workloadDur := fs.Duration("workload-dur", 0, "override how long the application workload runs")
	workloadSize := fs.Int("workload-size", 0, "override the application workload's base tree size (znodes)")
	noSerial := fs.Bool("no-serial", false, "skip the serial copier")
	noCurator := fs.Bool("no-curator", false, "skip the Curator-based mirror")
	sourceProc := fs.Bool("source-process", false, "run the active daemon as a `zkdr run` process during the seed, to read its memory (seed scenario only; on in -preset large)")
	keep := fs.Bool("keep", false, "keep the work directory (servers' data and logs)")
	verbose := fs.Bool("v", false, "debug logs")
	daemonLog := fs.String("daemon-log", "info", "level of the zkdr daemons' log (zkdr.log in the work directory)")
	watch := fs.String("watch", "", "the daemons' source.watch: auto (default), recursive or one-shot")
	coldApplier := fs.Bool("cold-applier", false, "run the standby's applier without applier.index_file: every start walks the standby (the backlog before warm starts)")
	render := fs.String("render", "", "print the table of a stored JSON result with the current rules, and measure nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *render != "" {
		rep, err := bench.ReadJSON(*render)
		if err != nil {
			return err
		}
		fmt.Println(rep.Markdown())
		return nil
	}
	cfg, err := bench.Preset(*preset)
	if err != nil {
		return err
	}
	cfg.PeersDir = os.Getenv("ZKDR_PEERS")
	if cfg.PeersDir == "" {
		cfg.PeersDir = "../shared/peers"
	}
	if *scenarios != "" {
		cfg.Scenarios = strings.Split(*scenarios, ",")
	}
	if *nodes > 0 {
		cfg.Nodes = *nodes
	}
	if *churnDur > 0 {
		cfg.ChurnDuration = *churnDur
	}
	if *backlog > 0 {
		cfg.Backlog = *backlog
	}
	if *burstPerMulti > 0 {
		cfg.BurstPerMulti = *burstPerMulti
	}
	if *burst > 0 {
		cfg.BurstChildren = *burst
	}
	if *withWorkload && !slices.Contains(cfg.Scenarios, bench.ScenarioWorkload) {
		cfg.Scenarios = append(cfg.Scenarios, bench.ScenarioWorkload)
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "workload-rate" {
			cfg.WorkloadRate = *workloadRate
		}
	})
	if *workloadDur > 0 {
		cfg.WorkloadDuration = *workloadDur
	}
	if *workloadSize > 0 {
		cfg.WorkloadSize = *workloadSize
	}
	cfg.SerialCopy = cfg.SerialCopy && !*noSerial
	cfg.CuratorMirror = cfg.CuratorMirror && !*noCurator
	cfg.CPUProfileDir, cfg.KeepWorkDir = *cpuprofile, *keep
	cfg.DaemonLogLevel = *daemonLog
	cfg.Watch = *watch
	cfg.ColdApplier = *coldApplier
	cfg.SourceProcess = cfg.SourceProcess || *sourceProc
	level := hclog.Info
	if *verbose {
		level = hclog.Debug
	}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "bench", Level: level, Output: os.Stderr, TimeFormat: time.TimeOnly})

	r, err := bench.New(cfg)
	if err != nil {
		return err
	}
	rep, runErr := r.Run(ctx)
	fmt.Println(rep.Markdown())
	if err := rep.WriteJSON(*out); err != nil {
		return errors.Join(runErr, fmt.Errorf("write %s: %w", *out, err))
	}
	fmt.Fprintf(os.Stderr, "results written to %s\n", *out)
	return runErr
}
