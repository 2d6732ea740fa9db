package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zkdr/zkdr/internal/buildinfo"
)

func init() {
	register("version", "the version, VCS revision and Go version of this binary", runVersion)
}

func runVersion(_ context.Context, args []string) error {
	fs := newFlags("version")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: errors.New("usage: zkdr version [--json]")}
	}
	return printVersion(os.Stdout, buildinfo.Read(), *asJSON)
}

// printVersion writes what `zkdr version` and `zkdr --version` print: the
// version on the first line, then one fact a line.
func printVersion(w io.Writer, info buildinfo.Info, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	vcsTime := info.Time
	if vcsTime == "" {
		vcsTime = "unknown"
	}
	revision := info.Revision
	if revision == "" {
		revision = "unknown"
	}
	_, err := fmt.Fprintf(w, "zkdr %s\n  revision  %s\n  time      %s\n  modified  %t\n  go        %s\n",
		info.Version, revision, vcsTime, info.Modified, info.GoVersion)
	return err
}
