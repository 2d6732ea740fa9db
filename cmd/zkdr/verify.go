package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *src == "" || *dst == "" {
		return &exitError{code: 2, err: fmt.Errorf("--source and --target are required")}
	}
	start := time.Now()
	trees := make([]zktree.Tree, 2)
	for i, addr := range []string{*src, *dst} {
		servers, root := splitConnect(addr)
		conn, _, err := zk.Connect(servers, 15*time.Second, zk.WithLogInfo(false), zk.WithLogger(discardZK{}))
		if err != nil {
			return err
		}
		defer conn.Close()
		if a := os.Getenv(*auth); a != "" {
			if err := conn.AddAuth("digest", []byte(a)); err != nil {
				return fmt.Errorf("%s: add auth: %w", addr, err)
			}
		}
		if trees[i], err = zktree.Walk(ctx, conn, root, zktree.Options{}); err != nil {
			return fmt.Errorf("walk %s: %w", addr, err)
		}
	}
	diff := zktree.Diff(trees[0], trees[1])
	took := time.Since(start)
	if *asJSON {
		out := map[string]any{"equal": len(diff) == 0, "source_nodes": len(trees[0]), "target_nodes": len(trees[1]),
			"seconds": took.Seconds(), "differences": diff}
		if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
			return err
		}
	} else {
		fmt.Printf("source %d nodes, target %d nodes, compared in %s\n", len(trees[0]), len(trees[1]), took.Round(time.Millisecond))
		for i, d := range diff {
			if i == 20 {
				fmt.Printf("... and %d more\n", len(diff)-20)
				break
			}
			fmt.Println("  " + d.String())
		}
	}
	if len(diff) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("trees differ in %d places", len(diff))}
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
