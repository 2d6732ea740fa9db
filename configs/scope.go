package configs

import (
	"fmt"
	"strings"
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

// under reports whether p is prefix or lies below it.
func under(p, prefix string) bool {
	if prefix == "/" || p == prefix {
		return true
	}
	return strings.HasPrefix(p, prefix) && p[len(prefix)] == '/'
}

// InScope reports whether the source path p is replicated: under some include,
// under no exclude, and never under /zookeeper or /zkdr.
func (r Replication) InScope(p string) bool {
	if under(p, ZooKeeperPath) || under(p, ZkdrPath) {
		return false
	}
	for _, ex := range r.Exclude {
		if under(p, ex) {
			return false
		}
	}
	for _, in := range r.Include {
		if under(p, in) {
			return true
		}
	}
	return false
}

// OnPath reports whether p is in scope or is an ancestor of an included
// subtree: the nodes a tree walk must visit (and watch) to find the scope.
func (r Replication) OnPath(p string) bool {
	if r.InScope(p) {
		return true
	}
	for _, in := range r.Include {
		if under(in, p) && !r.excluded(p) {
			return true
		}
	}
	return false
}

func (r Replication) excluded(p string) bool {
	if under(p, ZooKeeperPath) || under(p, ZkdrPath) {
		return true
	}
	for _, ex := range r.Exclude {
		if under(p, ex) {
			return true
		}
	}
	return false
}

// Map translates a source path to its standby path through Mapping; paths
// outside Mapping.From, and every path when there is no mapping, are unchanged.
func (r Replication) Map(p string) string {
	m := r.Mapping
	if m == nil || !under(p, m.From) {
		return p
	}
	rest := strings.TrimPrefix(p, m.From)
	if m.From == "/" {
		rest = p
	}
	switch {
	case m.To == "/" && rest == "":
		return "/"
	case m.To == "/":
		return rest
	case rest == "/":
		return m.To
	default:
		return m.To + rest
	}
}
