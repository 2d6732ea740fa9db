package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zkdr/zkdr/replicator/applier"
)

func init() {
	register("guard", "the delete guard: release a paused batch", runGuard)
}

func runGuard(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "release" {
		return &exitError{code: 2, err: errors.New("usage: zkdr guard release --config FILE")}
	}
	fs := newFlags("guard release")
	path := fs.String("config", "", "site config file (the standby's)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	conn, err := dialSite(ctx, cfg.ZooKeeper, 30*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	g, ok, err := applier.ReadGuard(ctx, conn)
	if err != nil {
		return err
	}
	if !ok || g.State != applier.GuardPaused {
		fmt.Println("the delete guard is not holding anything")
		return nil
	}
	if err := applier.ReleaseGuard(ctx, conn); err != nil {
		return err
	}
	fmt.Printf("released: %s sequences %d..%d deleting %d of %d replicated nodes proceed\n",
		g.Stream, g.FirstSeq, g.LastSeq, g.Deletes, g.Replicated)
	return nil
}
