package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at link time with -ldflags "-X github.com/zkdr/zkdr/internal/buildinfo.NAME=VALUE".
// A value set there wins over the toolchain's own stamp.
var (
	version  string // release version, e.g. 1.2.0 or 0.0.0+g8421072
	revision string // full VCS revision
	vcsTime  string // commit time, RFC 3339
	modified string // "true" when the work tree had uncommitted changes
)

// Devel is the version of a binary built without a release version: what the
// toolchain reports for a main module built from its own work tree.
const Devel = "(devel)"

// Info describes one build of zkdr. Empty Revision and Time mean the binary was
// built without VCS stamping (go build -buildvcs=false, or outside a work tree).
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Time      string `json:"time"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, version, revision, vcsTime, modified)
}

// fromBuildInfo merges the toolchain's build information (nil when the binary
// has none) with the values set at link time.
func fromBuildInfo(bi *debug.BuildInfo, linkVersion, linkRevision, linkTime, linkModified string) Info {
	info := Info{GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		info.Version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if linkVersion != "" {
		info.Version = linkVersion
	}
	if linkRevision != "" {
		info.Revision = linkRevision
	}
	if linkTime != "" {
		info.Time = linkTime
	}
	if linkModified != "" {
		info.Modified = linkModified == "true"
	}
	if info.Version == "" {
		info.Version = Devel
	}
	return info
}

// ShortRevision is the first 12 characters of the revision, or "unknown".
func (i Info) ShortRevision() string {
	switch {
	case i.Revision == "":
		return "unknown"
	case len(i.Revision) > 12:
		return i.Revision[:12]
	default:
		return i.Revision
	}
}

// String is the one-line form, as in "zkdr 1.2.0 (revision 8421072abcde,
// 2026-11-02T10:04:05Z, modified) go1.26.8".
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "zkdr %s (revision %s", i.Version, i.ShortRevision())
	if i.Time != "" {
		fmt.Fprintf(&b, ", %s", i.Time)
	}
	if i.Modified {
		b.WriteString(", modified")
	}
	fmt.Fprintf(&b, ") %s", i.GoVersion)
	return b.String()
}
