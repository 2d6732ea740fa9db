package configs

import (
	"fmt"
	"os"
	"path/filepath"
)

// Load reads, parses and validates the config file at path. Errors in the
// file come back as Errors naming the file, line and field.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configs: read config: %w", err)
	}
	return Parse(src, path)
}

// Parse parses and validates HCL source. filename is used in error messages,
// and its directory anchors file() and relative file paths ("" means the
// current directory). Unset fields get Default's values; nats.domain defaults
// to site, the peer's nats.domain to the peer's name, and /zookeeper and /zkdr
// are always added to replication.exclude.
func Parse(src []byte, filename string) (*Config, error) {
	dir := "."
	if filename != "" {
		dir = filepath.Dir(filename)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	d := newDecoder(filename, dir)
	c := Default()
	if !d.decodeFile(src, c) {
		return nil, d.errs.errOrNil()
	}
	c.src = &origin{file: filename, pos: d.pos}
	c.complete()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
