// Package buildinfo says which zkdr a binary is: its version, the VCS revision
// and commit time it was built from, whether the work tree had uncommitted
// changes, and the Go version that built it.
//
// The facts come from the build information the Go toolchain embeds
// (runtime/debug.ReadBuildInfo: the main module's version and the vcs.*
// settings of a build with VCS stamping). A release build may set the version,
// and the revision facts for builds made outside a work tree, at link time:
//
//	go build -ldflags "-X github.com/zkdr/zkdr/internal/buildinfo.version=1.2.0" ./cmd/zkdr
//
// `zkdr version`, the daemon's /healthz and its zkdr_build_info metric all
// report Read().
package buildinfo
