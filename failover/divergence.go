package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// What replaced a divergent node (DivergentNode.ReplacedBy).
const (
	ReplacedByData    = "data"     // the active site has other data at the path
	ReplacedByACL     = "acl"      // the active site has another ACL at the path
	ReplacedByDataACL = "data+acl" // both
	ReplacedByDeleted = "deleted"  // the active site has no node at the path
)

// DivergentNode is a node of a returning old primary that rejoin overwrites or
// deletes: usually a write that never left the old datacenter. It is one line
// of the divergence report, so that no write is lost silently.
type DivergentNode struct {
	Path       string     `json:"path"`
	Data       []byte     `json:"data"` // base64 in JSON
	Stat       NodeStat   `json:"stat"`
	ACL        []ACLEntry `json:"acl"`
	ReplacedBy string     `json:"replaced_by"`
}

// NodeStat is a node's zk.Stat as the report writes it.
type NodeStat struct {
	Czxid          int64 `json:"czxid"`
	Mzxid          int64 `json:"mzxid"`
	Pzxid          int64 `json:"pzxid"`
	Ctime          int64 `json:"ctime"` // milliseconds since the epoch
	Mtime          int64 `json:"mtime"`
	Version        int32 `json:"version"`
	Cversion       int32 `json:"cversion"`
	Aversion       int32 `json:"aversion"`
	EphemeralOwner int64 `json:"ephemeral_owner"`
}

// ACLEntry is one zk.ACL as the report writes it.
type ACLEntry struct {
	Perms  int32  `json:"perms"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

func nodeStat(s *zk.Stat) NodeStat {
	return NodeStat{Czxid: s.Czxid, Mzxid: s.Mzxid, Pzxid: s.Pzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion, EphemeralOwner: s.EphemeralOwner}
}

func aclEntries(acl []zk.ACL) []ACLEntry {
	out := make([]ACLEntry, len(acl))
	for i, a := range acl {
		out[i] = ACLEntry{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID}
	}
	return out
}

// DivergenceWriter writes DivergentNodes as JSON lines, each with one Write
// call, so a crash leaves at most a torn last line. The caller syncs and closes
// the file before it overwrites anything the report covers.
type DivergenceWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

// NewDivergenceWriter writes to w.
func NewDivergenceWriter(w io.Writer) *DivergenceWriter { return &DivergenceWriter{w: w} }

// Write appends one node to the report.
func (d *DivergenceWriter) Write(n DivergentNode) error {
	line, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode divergent node %s: %w", n.Path, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write divergence report: %w", err)
	}
	d.n++
	return nil
}

// Count returns how many nodes were written.
func (d *DivergenceWriter) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// ActiveNode is one node of the new active site's tree, as FindDivergence
// compares it.
type ActiveNode struct {
	Path string // absolute
	Data []byte
	ACL  []zk.ACL
}

// TreeConn is the part of *zk.Conn that FindDivergence reads the old primary
// with.
type TreeConn interface {
	Get(path string) ([]byte, *zk.Stat, error)
	GetACL(path string) ([]zk.ACL, *zk.Stat, error)
	Children(path string) ([]string, *zk.Stat, error)
}

var _ TreeConn = (*zk.Conn)(nil)

// DivergenceOptions select the scope FindDivergence compares.
type DivergenceOptions struct {
	// Skip lists absolute path prefixes left out with their subtrees.
	// Default: /zookeeper and /zkdr, which are never replicated.
	Skip []string
}

func (o DivergenceOptions) skipped(p string) bool {
	for _, s := range o.Skip {
		if p == s || strings.HasPrefix(p, strings.TrimSuffix(s, "/")+"/") {
			return true
		}
	}
	return false
}

// FindDivergence lists, sorted by path, the nodes of the old primary (read
// through old) that taking over the new active tree would overwrite or delete:
// nodes whose data or ACL differ from the active node at the same path, and
// nodes the active tree does not have. Nodes only the active tree has lose
// nothing and are not listed, nor are session ephemerals of the old primary
// (they die with their sessions anyway). active must yield every node of the
// active tree in scope; order does not matter. Memory grows with the number of
// active paths, not their data.
func FindDivergence(ctx context.Context, old TreeConn, active iter.Seq2[ActiveNode, error], opts DivergenceOptions) ([]DivergentNode, error) {
	if opts.Skip == nil {
		opts.Skip = zkpath.AlwaysExcluded()
	}
	var out []DivergentNode
	seen := map[string]struct{}{}
	for n, err := range active {
		if err != nil {
			return nil, fmt.Errorf("read active tree: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := path.Clean("/" + n.Path)
		if opts.skipped(p) {
			continue
		}
		seen[p] = struct{}{}
		node, ok, err := readOld(old, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		dataDiffers, aclDiffers := !bytes.Equal(node.Data, n.Data), !sameACLs(node.acl, n.ACL)
		switch {
		case dataDiffers && aclDiffers:
			node.ReplacedBy = ReplacedByDataACL
		case dataDiffers:
			node.ReplacedBy = ReplacedByData
		case aclDiffers:
			node.ReplacedBy = ReplacedByACL
		default:
			continue
		}
		out = append(out, node.DivergentNode)
	}

	// Walk the old tree for what the active one lacks.
	stack := []string{"/"}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		kids, _, err := old.Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list %s on the old primary: %w", p, err)
		}
		for _, k := range kids {
			c := path.Join(p, k)
			if opts.skipped(c) {
				continue
			}
			stack = append(stack, c)
			if _, ok := seen[c]; ok {
				continue
			}
			node, ok, err := readOld(old, c)
			if err != nil {
				return nil, err
			}
			if ok {
				node.ReplacedBy = ReplacedByDeleted
				out = append(out, node.DivergentNode)
			}
		}
	}
	slices.SortFunc(out, func(a, b DivergentNode) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

type oldNode struct {
	DivergentNode
	acl []zk.ACL
}

// readOld reads a node of the old primary; ok is false when it does not exist
// or is a session ephemeral.
func readOld(old TreeConn, p string) (oldNode, bool, error) {
	data, stat, err := old.Get(p)
	var acl []zk.ACL
	if err == nil {
		acl, _, err = old.GetACL(p)
	}
	if errors.Is(err, zk.ErrNoNode) {
		return oldNode{}, false, nil
	}
	if err != nil {
		return oldNode{}, false, fmt.Errorf("read %s on the old primary: %w", p, err)
	}
	if isSessionEphemeral(stat.EphemeralOwner) {
		return oldNode{}, false, nil
	}
	return oldNode{
		DivergentNode: DivergentNode{Path: p, Data: data, Stat: nodeStat(stat), ACL: aclEntries(acl)},
		acl:           acl,
	}, true, nil
}

// isSessionEphemeral tells a session's ephemeral node from persistent nodes and
// from the special owners ZooKeeper gives container (min int64) and TTL (high
// byte 0xff) nodes.
func isSessionEphemeral(owner int64) bool {
	return owner != 0 && owner != -1<<63 && uint64(owner)>>56 != 0xff
}

// sameACLs compares ACLs as sets.
func sameACLs(a, b []zk.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	cmp := func(x, y zk.ACL) int {
		if c := strings.Compare(x.Scheme, y.Scheme); c != 0 {
			return c
		}
		if c := strings.Compare(x.ID, y.ID); c != 0 {
			return c
		}
		return int(x.Perms) - int(y.Perms)
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, cmp)
	slices.SortFunc(y, cmp)
	return slices.Equal(x, y)
}
