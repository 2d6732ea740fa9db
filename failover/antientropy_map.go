package failover

import (
	"path"
	"strings"

	"github.com/zkdr/zkdr/replicator"
)

// aeMapper turns replicated source paths into the standby paths the applier
// writes them to, and back, the way the applier's own mapping does: the longest
// matching From wins, and paths under no From keep their name.
type aeMapper struct {
	scope replicator.Scope
	maps  []replicator.PathMap
}

// dest is where the applier writes source path src on the standby.
func (m aeMapper) dest(src string) string {
	dst, best := src, -1
	for _, pm := range m.maps {
		if underPath(src, pm.From) && len(pm.From) > best {
			best = len(pm.From)
			rest := strings.TrimPrefix(src, pm.From)
			if pm.From == "/" {
				rest = src
			}
			dst = path.Join(pm.To, rest)
		}
	}
	return dst
}

// source is the replicated source path the standby path dst stands for; ok is
// false when dst holds no replicated node (out of scope, or where no source
// path maps to).
func (m aeMapper) source(dst string) (string, bool) {
	src, best := dst, -1
	for _, pm := range m.maps {
		if underPath(dst, pm.To) && len(pm.To) > best {
			best = len(pm.To)
			rest := strings.TrimPrefix(dst, pm.To)
			if pm.To == "/" {
				rest = dst
			}
			src = path.Join(pm.From, rest)
		}
	}
	if !m.scope.Contains(src) || m.dest(src) != dst {
		return "", false
	}
	return src, true
}

// movedBelow reports whether a mapping source lies strictly below src: such a
// subtree is not written in one piece on the standby, so a pass compares it
// child by child down to the moved prefix.
func (m aeMapper) movedBelow(src string) bool {
	for _, pm := range m.maps {
		if pm.From != src && underPath(pm.From, src) {
			return true
		}
	}
	return false
}

// foreignBelow lists the standby prefixes strictly below dst that hold nodes
// mapped from elsewhere than the source subtree src: a walk of dst skips them.
func (m aeMapper) foreignBelow(src, dst string) []string {
	var out []string
	for _, pm := range m.maps {
		if pm.To != dst && underPath(pm.To, dst) && !underPath(pm.From, src) {
			out = append(out, pm.To)
		}
	}
	return out
}

// underPath reports whether p is prefix itself or below it.
func underPath(p, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// joinRel joins a walked root and a path relative to it ("/" is the root).
func joinRel(root, rel string) string {
	if rel == "/" {
		return root
	}
	return path.Join(root, rel)
}
