package configs

import (
	"embed"
	"io/fs"
)

//go:embed dev.hcl east.hcl west.hcl
var examples embed.FS

// Examples returns the example configs by file name ("dev.hcl", "east.hcl",
// "west.hcl"). Each call returns fresh copies. dev.hcl is what `zkdr dev`
// runs; east.hcl and west.hcl are a production pair that reads its ZooKeeper
// credentials from ZKDR_ZK_AUTH and ZKDR_PEER_ZK_AUTH.
func Examples() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.ReadDir(examples, ".")
	for _, e := range entries {
		b, err := examples.ReadFile(e.Name())
		if err == nil {
			out[e.Name()] = b
		}
	}
	return out
}
