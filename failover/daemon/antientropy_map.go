package daemon

import "path"

// joinRel joins a walked root and a path relative to it ("/" is the root).
func joinRel(root, rel string) string {
	if rel == "/" {
		return root
	}
	return path.Join(root, rel)
}
