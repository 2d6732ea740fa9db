package zktree

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// Stamp is a node's version stamp as ZooKeeper keeps it. Each field moves on
// every change of one aspect and never comes back: Version with the data,
// Aversion with the ACL, Cversion with the set of children, Czxid with a delete
// and re-create. Two reads of a node with equal stamps therefore saw the same
// node, unchanged in between, even if a change and its undo happened meanwhile
// in a neighbour.
type Stamp struct {
	Czxid    int64
	Version  int32
	Aversion int32
	Cversion int32
}

// Pacer bounds the rate of reads; *rate.Limiter from golang.org/x/time/rate
// satisfies it. Every ZooKeeper request of ReadStamped and WalkStamped waits
// for one token.
type Pacer interface {
	Wait(ctx context.Context) error
}

// StampedTree is a walk that kept each node's stamp. Keys are relative to the
// walked root, as in Tree.
type StampedTree struct {
	Tree   Tree
	Stamps map[string]Stamp
	// Unreadable lists the paths (relative) the session may not read (NoAuth);
	// they are left out with their subtrees.
	Unreadable []string
}

// ReadStamped reads one node at an absolute path: data digest, ACL, mode, stamp
// and (when children is true) its children's names. Each aspect comes with the
// stamp field of the same reply, so data and Version, ACL and Aversion,
// children and Cversion always belong together. It returns zk.ErrNoNode when the
// node does not exist and zk.ErrNoAuth when it may not be read.
func ReadStamped(ctx context.Context, conn *zk.Conn, p string, children bool, pace Pacer) (Node, Stamp, []string, error) {
	if err := pace.Wait(ctx); err != nil {
		return Node{}, Stamp{}, nil, err
	}
	data, st, err := conn.Get(p)
	if err != nil {
		return Node{}, Stamp{}, nil, err
	}
	n := Node{Sum: sha256.Sum256(data), Size: len(data), EphemeralOwner: st.EphemeralOwner,
		Cversion: st.Cversion, NumChildren: st.NumChildren}
	s := Stamp{Czxid: st.Czxid, Version: st.Version, Cversion: st.Cversion}
	if err := pace.Wait(ctx); err != nil {
		return Node{}, Stamp{}, nil, err
	}
	acl, ast, err := conn.GetACL(p)
	if err != nil {
		return Node{}, Stamp{}, nil, err
	}
	if ast.Czxid != s.Czxid {
		return Node{}, Stamp{}, nil, zk.ErrNoNode // re-created between the two reads: read again later
	}
	n.ACL, s.Aversion = acl, ast.Aversion
	// A node whose data read showed no children is read as childless: its
	// Cversion from the same reply vouches for that, and a leaf (most nodes)
	// costs one request less.
	if !children || st.NumChildren == 0 {
		return n, s, nil, nil
	}
	if err := pace.Wait(ctx); err != nil {
		return Node{}, Stamp{}, nil, err
	}
	kids, cst, err := conn.Children(p)
	if err != nil {
		return Node{}, Stamp{}, nil, err
	}
	if cst.Czxid != s.Czxid {
		return Node{}, Stamp{}, nil, zk.ErrNoNode
	}
	n.Cversion, n.NumChildren, s.Cversion = cst.Cversion, cst.NumChildren, cst.Cversion
	return n, s, kids, nil
}

// WalkStamped reads every node under root, as Walk does, with at most
// opts.Concurrency requests in flight and each request paced by pace. It keeps
// digests only (Node.Data is nil) and each node's stamp. Nodes that vanish
// during the walk are left out; nodes the session may not read are listed in
// Unreadable and left out with their subtrees.
func WalkStamped(ctx context.Context, conn *zk.Conn, root string, opts Options, pace Pacer) (StampedTree, error) {
	if opts.Skip == nil {
		opts.Skip = zkpath.AlwaysExcluded()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	root = path.Clean("/" + root)
	out := StampedTree{Tree: Tree{}, Stamps: map[string]Stamp{}}
	if opts.skipped(root) {
		return out, nil
	}
	var mu sync.Mutex
	rel := func(p string) string { return "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/") }
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	var visit func(p string) error
	visit = func(p string) error {
		n, s, kids, err := ReadStamped(gctx, conn, p, true, pace)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrNoAuth):
			mu.Lock()
			out.Unreadable = append(out.Unreadable, rel(p))
			mu.Unlock()
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", p, err)
		}
		if n.EphemeralOwner != 0 && !opts.KeepEphemeral && isSessionEphemeral(n.EphemeralOwner) {
			return nil
		}
		mu.Lock()
		out.Tree[rel(p)], out.Stamps[rel(p)] = n, s
		mu.Unlock()
		for _, k := range kids {
			c := path.Join(p, k)
			if opts.skipped(c) {
				continue
			}
			// A free slot takes the child; otherwise this goroutine reads it
			// itself, so a full group never waits on its own members.
			if !g.TryGo(func() error { return visit(c) }) {
				if err := visit(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	g.Go(func() error { return visit(root) })
	if err := g.Wait(); err != nil {
		return StampedTree{}, err
	}
	if err := ctx.Err(); err != nil {
		return StampedTree{}, err
	}
	return out, nil
}

// IsSessionEphemeral reports whether an ephemeralOwner is a real session's,
// as opposed to the special owners ZooKeeper uses for container and TTL nodes.
func IsSessionEphemeral(owner int64) bool { return owner != 0 && isSessionEphemeral(owner) }
