package zkpath

import (
	"slices"
	"strings"
)

// Under reports whether p is prefix itself or below it.
func Under(p, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// Child joins a parent path and a child name.
func Child(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// Parent is the parent of p ("/" for top-level nodes and the root itself).
func Parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// IsRoot reports whether p is one of roots.
func IsRoot(roots []string, p string) bool { return slices.Contains(roots, p) }
