package configs

import (
	"fmt"
	"strings"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// CheckPath reports whether p is a ZooKeeper path as the config accepts it:
// absolute, no trailing slash (except "/" itself), no empty, "." or ".."
// element, no NUL.
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case p[0] != '/':
		return fmt.Errorf("path %q must be absolute (start with /)", p)
	case p == "/":
		return nil
	case strings.HasSuffix(p, "/"):
		return fmt.Errorf("path %q must not end with /", p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q contains a NUL character", p)
	}
	for _, el := range strings.Split(p[1:], "/") {
		switch el {
		case "":
			return fmt.Errorf("path %q has an empty element (//)", p)
		case ".", "..":
			return fmt.Errorf("path %q has a relative element %q", p, el)
		}
	}
	return nil
}

// Scope is the replicated part of the tree as the source and the applier use
// it, in source paths.
func (r Replication) Scope() zkpath.Scope {
	s := zkpath.Scope{Include: r.Include, Exclude: r.Exclude}
	if r.Ephemeral == EphemeralPersistent {
		s.Ephemeral = []zkpath.EphemeralRule{{Prefix: "/", Policy: zkpath.EphemeralPersistent}}
	}
	for _, m := range r.Modes {
		rule := zkpath.ModeRule{Pattern: m.Pattern, Mode: zkpath.ModeContainer}
		if m.Kind == KindTTL {
			rule.Mode, rule.TTL = zkpath.ModeTTL, m.TTL
		}
		s.Modes = append(s.Modes, rule)
	}
	return s
}

// Mapper maps source paths to standby paths and back as the applier writes
// them: the Scope, moved by the optional Mapping.
func (r Replication) Mapper() zkpath.Mapper {
	m := zkpath.Mapper{Scope: r.Scope()}
	if r.Mapping != nil {
		m.Maps = []zkpath.PathMap{{From: r.Mapping.From, To: r.Mapping.To}}
	}
	return m
}

// OnPath reports whether p is in scope or is an ancestor of an included
// subtree: the nodes a tree walk must visit (and watch) to find the scope.
func (r Replication) OnPath(p string) bool {
	s := r.Scope()
	if s.Contains(p) {
		return true
	}
	for _, in := range r.Include {
		if zkpath.Under(in, p) && !zkpath.IsAlwaysExcluded(p) && !r.excluded(p) {
			return true
		}
	}
	return false
}

func (r Replication) excluded(p string) bool {
	for _, ex := range r.Exclude {
		if zkpath.Under(p, ex) {
			return true
		}
	}
	return false
}
