package source

import (
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// entry is what the source remembers of one znode: enough stat to tell a newer
// read from an older one and a re-created node from the same one, never the data.
// It holds no pointer (40 bytes), so the collector never scans the index's values.
type entry struct {
	czxid, mzxid, pzxid int64
	cversion, aversion  int32
	acl                 aclRef // interned: trees have few distinct ACLs
	skipped             bool   // an ephemeral left out by policy: known, never published
}

// aclRef names an interned ACL (index.aclOf); 0 is none.
type aclRef uint32

// index maps path -> entry for every znode the source has published (or skipped
// by policy), plus each parent's child names. Names are substrings of the child's
// path key, so they share its bytes. The publish loop is the only writer; readers
// (tasks deciding what to read) take the read lock.
type index struct {
	mu    sync.RWMutex
	nodes map[string]entry
	kids  map[string][]string // parent path -> child names, only for parents with children
	acls  map[string]aclRef   // interned ACLs by their encoding
	byRef [][]zk.ACL          // interned ACLs by aclRef; [0] is none
}

func newIndex() *index {
	return &index{nodes: map[string]entry{}, kids: map[string][]string{}, acls: map[string]aclRef{}, byRef: [][]zk.ACL{nil}}
}

func (x *index) get(p string) (entry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.nodes[p]
	return e, ok
}

func (x *index) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.nodes)
}

// children returns a copy of the known child names of p.
func (x *index) children(p string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]string(nil), x.kids[p]...)
}

// internACL returns the reference of the shared copy of acl.
func (x *index) internACL(acl []zk.ACL) aclRef {
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(a.Scheme)
		b.WriteByte(0)
		b.WriteString(a.ID)
		b.WriteByte(0)
		b.WriteByte(byte(a.Perms))
	}
	key := b.String()
	x.mu.Lock()
	defer x.mu.Unlock()
	if ref, ok := x.acls[key]; ok {
		return ref
	}
	ref := aclRef(len(x.byRef))
	x.byRef = append(x.byRef, append([]zk.ACL(nil), acl...))
	x.acls[key] = ref
	return ref
}

// aclOf returns the ACL ref stands for (nil for none). The slice is shared:
// never change it.
func (x *index) aclOf(ref aclRef) []zk.ACL {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byRef[ref]
}

// put stores e at p; a new path is linked into its parent's child list unless it
// is a root (isRoot).
func (x *index) put(p string, e entry, root bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.nodes[p]; !ok && !root {
		parent := zkpath.Parent(p)
		x.kids[parent] = append(x.kids[parent], p[strings.LastIndexByte(p, '/')+1:])
	}
	x.nodes[p] = e
}

// drop removes p and its whole subtree and unlinks p from its parent.
func (x *index) drop(p string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.nodes[p]; !ok {
		return
	}
	x.dropLocked(p)
	parent := zkpath.Parent(p)
	if p == "/" {
		return
	}
	name := p[strings.LastIndexByte(p, '/')+1:]
	kids := x.kids[parent]
	for i, k := range kids {
		if k == name {
			kids[i] = kids[len(kids)-1]
			kids = kids[:len(kids)-1]
			break
		}
	}
	if len(kids) == 0 {
		delete(x.kids, parent)
	} else {
		x.kids[parent] = kids
	}
}

func (x *index) dropLocked(p string) {
	for _, k := range x.kids[p] {
		x.dropLocked(zkpath.Child(p, k))
	}
	delete(x.kids, p)
	delete(x.nodes, p)
}

// paths lists every path in the index (for the periodic ACL re-check).
func (x *index) paths() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]string, 0, len(x.nodes))
	for p, e := range x.nodes {
		if !e.skipped {
			out = append(out, p)
		}
	}
	return out
}
