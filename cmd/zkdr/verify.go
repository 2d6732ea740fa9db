package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/progress"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zktree"
)

func init() {
	register("verify", "compare two trees: paths, data, ACLs and modes", runVerify)
}

func runVerify(ctx context.Context, args []string) error {
	fs := newFlags("verify")
	src := fs.String("source", "", "HOST:PORT[,HOST:PORT...][/chroot] of the source tree")
	dst := fs.String("target", "", "HOST:PORT[,HOST:PORT...][/chroot] of the target tree")
	auth := fs.String("auth-env", "ZKDR_ZK_AUTH", "environment variable with digest credentials user:password (optional)")
	asJSON := fs.Bool("json", false, "print JSON")
	sessions := fs.Int("sessions", 4, "ZooKeeper sessions per tree; reads are spread over them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sessions < 1 {
		return &exitError{code: 2, err: fmt.Errorf("--sessions must be at least 1")}
	}
	if *src == "" || *dst == "" {
		return &exitError{code: 2, err: fmt.Errorf("--source and --target are required")}
	}
	start := time.Now()
	// Both trees are walked at once, each over several sessions: one
	// session's reads top out well below what an ensemble serves.
	r := progress.New(os.Stderr, "verify: nodes read on both sides", 0, "nodes")
	trees := make([]zktree.Tree, 2)
	g, gctx := errgroup.WithContext(ctx)
	for i, addr := range []string{*src, *dst} {
		servers, root := splitConnect(addr)
		conns := make([]*zk.Conn, *sessions)
		for j := range conns {
			conn, err := zkconn.Dial(ctx, zkconn.Config{Servers: servers, SessionTimeout: 15 * time.Second, Auth: os.Getenv(*auth)}, nil,
				zkconn.NoWait(), zkconn.WithConnOptions(zk.WithLogInfo(false)))
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			defer conn.Close()
			conns[j] = conn
		}
		g.Go(func() error {
			t, err := zktree.Walk(gctx, conns[0], root, zktree.Options{DigestOnly: true, Concurrency: 64 * len(conns),
				Conns: conns[1:], Progress: func(n int) { r.Add(int64(n)) }})
			if err != nil {
				return fmt.Errorf("walk %s: %w", addr, err)
			}
			trees[i] = t
			return nil
		})
	}
	err := g.Wait()
	r.Finish()
	if err != nil {
		return err
	}
	diff := zktree.Diff(trees[0], trees[1])
	subtrees := zktree.Summarize(trees[0], trees[1])
	took := time.Since(start)
	total := len(diff)
	if len(diff) > 100 {
		diff = diff[:100]
	}
	if *asJSON {
		out := map[string]any{"equal": total == 0, "difference_count": total, "source_nodes": len(trees[0]), "target_nodes": len(trees[1]),
			"seconds": took.Seconds(), "subtrees": subtrees, "differences": diff}
		if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
			return err
		}
	} else {
		fmt.Printf("source %d nodes, target %d nodes, compared in %s\n", len(trees[0]), len(trees[1]), took.Round(time.Millisecond))
		for _, s := range subtrees {
			state := "equal"
			if !s.Equal {
				state = "DIFFERS"
			}
			fmt.Printf("  %-30s %-8s source %d nodes (%s), target %d nodes (%s)\n", s.Path, state, s.SourceNodes, s.SourceDigest, s.TargetNodes, s.TargetDigest)
		}
		for i, d := range diff {
			if i == 20 {
				fmt.Printf("... and %d more\n", total-20)
				break
			}
			fmt.Println("  " + d.String())
		}
	}
	if total > 0 {
		return &exitError{code: 1, err: fmt.Errorf("trees differ in %d places", total)}
	}
	if !*asJSON {
		fmt.Println("equal")
	}
	return nil
}

// splitConnect splits "h1:p,h2:p/chroot" into servers and a root path.
func splitConnect(s string) ([]string, string) {
	root := "/"
	if i := strings.Index(s, "/"); i >= 0 {
		s, root = s[:i], s[i:]
	}
	return strings.Split(s, ","), root
}
