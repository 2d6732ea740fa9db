package zkpath

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// PathMap moves the source subtree From to the destination subtree To on the
// standby (source chroot -> destination chroot). The longest matching From wins;
// paths under no From keep their name.
type PathMap struct {
	From string
	To   string
}

// Mapper turns replicated source paths into the standby paths the applier
// writes them to, and back. The applier writes through it and the
// anti-entropy pass compares through it, so both agree on every path.
type Mapper struct {
	// Scope is the replicated part of the tree, in source paths.
	Scope Scope
	// Maps optionally move source prefixes to other destination prefixes.
	Maps []PathMap
}

// Validate checks the scope and that every mapping prefix is an absolute,
// clean path whose target stays clear of /zookeeper and /zkdr.
func (m Mapper) Validate() error {
	if err := m.Scope.Validate(); err != nil {
		return err
	}
	for _, pm := range m.Maps {
		for _, p := range []string{pm.From, pm.To} {
			if p == "" || p[0] != '/' || path.Clean(p) != p {
				return fmt.Errorf("%w: mapping prefix %q is not an absolute clean path", ErrInvalidScope, p)
			}
		}
		for _, e := range AlwaysExcluded() {
			if Under(pm.To, e) || Under(e, pm.To) && pm.To != "/" {
				return fmt.Errorf("%w: mapping target %q overlaps %s", ErrInvalidScope, pm.To, e)
			}
		}
	}
	return nil
}

// Map renames a source path by the longest matching From, whether or not it
// is in scope; a path under no From keeps its name.
func (m Mapper) Map(src string) string {
	dst, best := src, -1
	for _, pm := range m.Maps {
		if Under(src, pm.From) && len(pm.From) > best {
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

// Dest is where the applier writes the source path src on the standby; ok is
// false when src is out of scope or would land in /zookeeper or /zkdr.
func (m Mapper) Dest(src string) (dst string, ok bool) {
	if !m.Scope.Contains(src) {
		return "", false
	}
	dst = m.Map(src)
	if IsAlwaysExcluded(dst) {
		return "", false
	}
	return dst, true
}

// Source is the replicated source path the standby path dst stands for; ok is
// false when dst holds no replicated node (out of scope, or where no source
// path maps to).
func (m Mapper) Source(dst string) (string, bool) {
	src, best := dst, -1
	for _, pm := range m.Maps {
		if Under(dst, pm.To) && len(pm.To) > best {
			best = len(pm.To)
			rest := strings.TrimPrefix(dst, pm.To)
			if pm.To == "/" {
				rest = dst
			}
			src = path.Join(pm.From, rest)
		}
	}
	if back, ok := m.Dest(src); !ok || back != dst {
		return "", false
	}
	return src, true
}

// InScope reports whether a standby path is a replicated node (the applier
// creates, updates and deletes it).
func (m Mapper) InScope(dst string) bool {
	_, ok := m.Source(dst)
	return ok
}

// Roots are the destination tops of the replicated subtrees.
func (m Mapper) Roots() []string {
	var out []string
	for _, r := range m.Scope.Roots() {
		if d, ok := m.Dest(r); ok {
			out = append(out, d)
		}
	}
	for _, pm := range m.Maps {
		// A mapping target below a root is reached by the walk of that root.
		if m.InScope(pm.To) && !slices.Contains(out, pm.To) {
			nested := false
			for _, r := range out {
				if Under(pm.To, r) {
					nested = true
				}
			}
			if !nested {
				out = append(out, pm.To)
			}
		}
	}
	return out
}

// MovedBelow reports whether a mapping source lies strictly below src: such a
// subtree is not written in one piece on the standby, so a comparison walks
// it child by child down to the moved prefix.
func (m Mapper) MovedBelow(src string) bool {
	for _, pm := range m.Maps {
		if pm.From != src && Under(pm.From, src) {
			return true
		}
	}
	return false
}

// ForeignBelow lists the standby prefixes strictly below dst that hold nodes
// mapped from elsewhere than the source subtree src: a walk of dst skips them.
func (m Mapper) ForeignBelow(src, dst string) []string {
	var out []string
	for _, pm := range m.Maps {
		if pm.To != dst && Under(pm.To, dst) && !Under(pm.From, src) {
			out = append(out, pm.To)
		}
	}
	return out
}
