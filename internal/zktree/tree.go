package zktree

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// Node is one znode as seen by Walk.
type Node struct {
	Data           []byte // nil when the walk kept digests only
	Sum            [sha256.Size]byte
	Size           int // data length
	ACL            []zk.ACL
	EphemeralOwner int64
	Cversion       int32
	NumChildren    int32
}

// Tree maps a path relative to the walked root ("/" is the root itself) to its node.
type Tree map[string]Node

// Options select what Walk reads.
type Options struct {
	// Skip lists absolute path prefixes left out with their subtrees.
	// Default: /zookeeper and /zkdr.
	Skip []string
	// KeepEphemeral keeps ephemeral nodes; by default they are left out.
	KeepEphemeral bool
	// Concurrency bounds requests in flight (default 64).
	Concurrency int
	// DigestOnly keeps a SHA-256 of each node's data instead of the data, so a
	// tree of large znodes compares in little memory.
	DigestOnly bool
	// Conns are more sessions to the same ensemble: the workers spread their
	// reads over conn and these, since one session's reads top out well below
	// what an ensemble serves.
	Conns []*zk.Conn
	// Progress, if set, is called with 1 for each node read (from many
	// goroutines at once).
	Progress func(n int)
}

func (o Options) skipped(p string) bool {
	for _, s := range o.Skip {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// Walk reads every node under root. Nodes that vanish during the walk are left out.
func Walk(ctx context.Context, conn *zk.Conn, root string, opts Options) (Tree, error) {
	if opts.Skip == nil {
		opts.Skip = zkpath.AlwaysExcluded()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	root = path.Clean("/" + root)
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		tree    = Tree{}
		queue   = []string{root}
		pending = 1 // queued or being read
		failed  error
	)
	// Wake idle workers when the walk is cancelled.
	stop := context.AfterFunc(ctx, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
	defer stop()
	conns := append([]*zk.Conn{conn}, opts.Conns...)
	var wg sync.WaitGroup
	for w := range opts.Concurrency {
		conn := conns[w%len(conns)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(queue) == 0 && pending > 0 && failed == nil && ctx.Err() == nil {
					cond.Wait()
				}
				if len(queue) == 0 || failed != nil || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				p := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				mu.Unlock()

				node, kids, keep, err := read(conn, p, opts)

				mu.Lock()
				pending--
				switch {
				case err != nil:
					if failed == nil {
						failed = err
					}
				case keep:
					if opts.Progress != nil {
						opts.Progress(1)
					}
					tree["/"+strings.TrimPrefix(strings.TrimPrefix(p, root), "/")] = node
					for _, k := range kids {
						if c := path.Join(p, k); !opts.skipped(c) {
							queue = append(queue, c)
							pending++
						}
					}
				}
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		return nil, failed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return tree, nil
}

// read fetches one node; keep is false when it vanished or is left out.
func read(conn *zk.Conn, p string, opts Options) (node Node, kids []string, keep bool, err error) {
	data, stat, err := conn.Get(p)
	var acl []zk.ACL
	if err == nil {
		acl, _, err = conn.GetACL(p)
	}
	if err == nil && stat.NumChildren > 0 {
		// A leaf (most nodes) needs no listing: a third fewer requests.
		kids, _, err = conn.Children(p)
	}
	if errors.Is(err, zk.ErrNoNode) {
		return Node{}, nil, false, nil
	}
	if err != nil {
		return Node{}, nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	if stat.EphemeralOwner != 0 && !opts.KeepEphemeral && isSessionEphemeral(stat.EphemeralOwner) {
		return Node{}, nil, false, nil
	}
	n := Node{Data: data, Sum: sha256.Sum256(data), Size: len(data), ACL: acl,
		EphemeralOwner: stat.EphemeralOwner, Cversion: stat.Cversion, NumChildren: stat.NumChildren}
	if opts.DigestOnly {
		n.Data = nil
	}
	return n, kids, true, nil
}

// isSessionEphemeral tells a real session's ephemeral owner from the special
// owners ZooKeeper uses for container and TTL nodes.
func isSessionEphemeral(owner int64) bool {
	const containerOwner = -1 << 63
	if owner == containerOwner {
		return false
	}
	return uint64(owner)>>56 != 0xff
}

// Difference is one way two trees differ.
type Difference struct {
	Path string
	What string // "missing on target", "extra on target", "data", "acl", "mode"
}

func (d Difference) String() string { return d.Path + ": " + d.What }

// Diff lists how target differs from source, sorted by path.
func Diff(source, target Tree) []Difference {
	var out []Difference
	for p, s := range source {
		t, ok := target[p]
		switch {
		case !ok:
			out = append(out, Difference{p, "missing on target"})
		case s.Sum != t.Sum:
			out = append(out, Difference{p, fmt.Sprintf("data (%d bytes vs %d)", s.Size, t.Size)})
		case !sameACL(s.ACL, t.ACL):
			out = append(out, Difference{p, fmt.Sprintf("acl (%v vs %v)", s.ACL, t.ACL)})
		case modeOf(s.EphemeralOwner) != modeOf(t.EphemeralOwner):
			out = append(out, Difference{p, fmt.Sprintf("mode (%s vs %s)", modeOf(s.EphemeralOwner), modeOf(t.EphemeralOwner))})
		}
	}
	for p := range target {
		if _, ok := source[p]; !ok {
			out = append(out, Difference{p, "extra on target"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func modeOf(owner int64) string {
	switch {
	case owner == 0:
		return "persistent"
	case owner == -1<<63:
		return "container"
	case uint64(owner)>>56 == 0xff:
		return fmt.Sprintf("ttl(%d)", owner&0xffffffffff)
	default:
		return "ephemeral"
	}
}

func sameACL(a, b []zk.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	x := append([]zk.ACL(nil), a...)
	y := append([]zk.ACL(nil), b...)
	less := func(s []zk.ACL) func(i, j int) bool {
		return func(i, j int) bool { return fmt.Sprint(s[i]) < fmt.Sprint(s[j]) }
	}
	sort.Slice(x, less(x))
	sort.Slice(y, less(y))
	return reflect.DeepEqual(x, y)
}
