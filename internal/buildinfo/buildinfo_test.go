package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/zkdr/zkdr", Version: "v0.0.0-20261102100405-8421072abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "8421072abcdef0123456789abcdef0123456789a"},
			{Key: "vcs.time", Value: "2026-11-02T10:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name                                string
		bi                                  *debug.BuildInfo
		linkVersion, linkRev, linkTime, mod string
		want                                Info
	}{
		{
			name: "toolchain stamp",
			bi:   stamped,
			want: Info{Version: "v0.0.0-20261102100405-8421072abcde+dirty", Revision: "8421072abcdef0123456789abcdef0123456789a",
				Time: "2026-11-02T10:04:05Z", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name: "release version set at link time",
			bi:   stamped, linkVersion: "1.2.0",
			want: Info{Version: "1.2.0", Revision: "8421072abcdef0123456789abcdef0123456789a",
				Time: "2026-11-02T10:04:05Z", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name:        "everything set at link time",
			bi:          &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: Devel}},
			linkVersion: "1.2.0", linkRev: "abc", linkTime: "2026-01-01T00:00:00Z", mod: "false",
			want: Info{Version: "1.2.0", Revision: "abc", Time: "2026-01-01T00:00:00Z", GoVersion: "go1.26.8"},
		},
		{
			name: "built with -buildvcs=false",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: Devel}},
			want: Info{Version: Devel, GoVersion: "go1.26.8"},
		},
		{
			name: "no build information",
			want: Info{Version: Devel, GoVersion: runtime.Version()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(tt.bi, tt.linkVersion, tt.linkRev, tt.linkTime, tt.mod)
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{Info{Version: "1.2.0", Revision: "8421072abcdef0123456789", Time: "2026-11-02T10:04:05Z", Modified: true, GoVersion: "go1.26.8"},
			"zkdr 1.2.0 (revision 8421072abcde, 2026-11-02T10:04:05Z, modified) go1.26.8"},
		{Info{Version: Devel, GoVersion: "go1.26.8"}, "zkdr (devel) (revision unknown) go1.26.8"},
	}
	for _, tt := range tests {
		if got := tt.info.String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// A test binary has build information of its own: Read reports it.
func TestReadInTestBinary(t *testing.T) {
	info := Read()
	if info.GoVersion != runtime.Version() {
		t.Errorf("GoVersion %q, running %q", info.GoVersion, runtime.Version())
	}
	if info.Version == "" || !strings.HasPrefix(info.String(), "zkdr ") {
		t.Errorf("Read() = %+v", info)
	}
}
