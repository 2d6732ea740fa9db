package zktree

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Digests returns a Merkle digest for every path of t: the hash of the node's
// own state (data digest, ACL, mode) and of its children's names and digests.
// Two trees whose root digests are equal are equal; where they differ, the
// differing subtrees are found by descending only into children whose
// digests differ.
func (t Tree) Digests() map[string][sha256.Size]byte {
	kids := map[string][]string{}
	for p := range t {
		if p != "/" {
			parent := path.Dir(p)
			kids[parent] = append(kids[parent], p)
		}
	}
	out := make(map[string][sha256.Size]byte, len(t))
	var digest func(p string) [sha256.Size]byte
	digest = func(p string) [sha256.Size]byte {
		n := t[p]
		h := sha256.New()
		h.Write(n.Sum[:])
		acl := make([]string, len(n.ACL))
		for i, a := range n.ACL {
			acl[i] = fmt.Sprintf("%d:%s:%s", a.Perms, a.Scheme, a.ID)
		}
		sort.Strings(acl)
		h.Write([]byte(strings.Join(acl, ",")))
		h.Write([]byte(modeOf(n.EphemeralOwner)))
		children := kids[p]
		sort.Strings(children)
		var lb [8]byte
		for _, c := range children {
			d := digest(c)
			binary.BigEndian.PutUint64(lb[:], uint64(len(c)))
			h.Write(lb[:])
			h.Write([]byte(c))
			h.Write(d[:])
		}
		var sum [sha256.Size]byte
		copy(sum[:], h.Sum(nil))
		out[p] = sum
		return sum
	}
	if _, ok := t["/"]; ok {
		digest("/")
	}
	return out
}

// SubtreeSummary says, for each child of the root, whether the subtree is equal
// on both sides and how many nodes each side holds there.
type SubtreeSummary struct {
	Path         string `json:"path"`
	Equal        bool   `json:"equal"`
	SourceNodes  int    `json:"source_nodes"`
	TargetNodes  int    `json:"target_nodes"`
	SourceDigest string `json:"source_digest,omitempty"`
	TargetDigest string `json:"target_digest,omitempty"`
}

// Summarize compares two trees subtree by subtree under the root, using their
// Merkle digests.
func Summarize(source, target Tree) []SubtreeSummary {
	ds, dt := source.Digests(), target.Digests()
	top := map[string]bool{}
	count := func(t Tree, side int, counts map[string][2]int) {
		for p := range t {
			if p == "/" {
				continue
			}
			first := "/" + strings.SplitN(strings.TrimPrefix(p, "/"), "/", 2)[0]
			top[first] = true
			c := counts[first]
			c[side]++
			counts[first] = c
		}
	}
	counts := map[string][2]int{}
	count(source, 0, counts)
	count(target, 1, counts)
	var out []SubtreeSummary
	for p := range top {
		s, sok := ds[p]
		d, tok := dt[p]
		sum := SubtreeSummary{Path: p, Equal: sok && tok && s == d, SourceNodes: counts[p][0], TargetNodes: counts[p][1]}
		if sok {
			sum.SourceDigest = fmt.Sprintf("%x", s[:8])
		}
		if tok {
			sum.TargetDigest = fmt.Sprintf("%x", d[:8])
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
