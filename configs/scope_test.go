package configs_test

import (
	"testing"

	"github.com/zkdr/zkdr/configs"
)

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/b", "/a.b/c-d", "/zookeeper", "/a/.hidden"} {
		if err := configs.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "a", "a/b", "/a/", "//", "/a//b", "/./a", "/a/..", "/a\x00b"} {
		if err := configs.CheckPath(p); err == nil {
			t.Errorf("CheckPath(%q) = nil, want error", p)
		}
	}
}

func TestInScope(t *testing.T) {
	r := configs.Replication{Include: []string{"/app", "/cfg/x"}, Exclude: []string{"/app/tmp"}}
	cases := map[string]bool{
		"/":            false,
		"/app":         true,
		"/app/a":       true,
		"/apple":       false, // a prefix of the name is not a parent
		"/app/tmp":     false,
		"/app/tmp/x":   false,
		"/app/tmpfile": true,
		"/cfg":         false,
		"/cfg/x/y":     true,
		"/zookeeper":   false,
		"/zkdr":        false,
	}
	for p, want := range cases {
		if got := r.InScope(p); got != want {
			t.Errorf("InScope(%q) = %v, want %v", p, got, want)
		}
	}
	// /zookeeper and /zkdr stay out even under include "/" with no exclude.
	all := configs.Replication{Include: []string{"/"}}
	for p, want := range map[string]bool{"/": true, "/a": true, "/zookeeper/quota": false, "/zkdr/site": false, "/zkdrx": true} {
		if got := all.InScope(p); got != want {
			t.Errorf("include /: InScope(%q) = %v, want %v", p, got, want)
		}
	}
	// The walk must pass through / and /cfg to reach /cfg/x.
	for p, want := range map[string]bool{"/": true, "/cfg": true, "/cfg/y": false, "/app/tmp": false, "/zkdr": false, "/other": false} {
		if got := r.OnPath(p); got != want {
			t.Errorf("OnPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestMap(t *testing.T) {
	cases := []struct {
		from, to, in, want string
	}{
		{"/app", "/dr/app", "/app", "/dr/app"},
		{"/app", "/dr/app", "/app/x/y", "/dr/app/x/y"},
		{"/app", "/dr/app", "/apple", "/apple"},
		{"/app", "/dr/app", "/other", "/other"},
		{"/", "/dr", "/", "/dr"},
		{"/", "/dr", "/a/b", "/dr/a/b"},
		{"/app", "/", "/app", "/"},
		{"/app", "/", "/app/x", "/x"},
		{"/", "/", "/a", "/a"},
	}
	for _, tc := range cases {
		r := configs.Replication{Mapping: &configs.Mapping{From: tc.from, To: tc.to}}
		if got := r.Map(tc.in); got != tc.want {
			t.Errorf("%s->%s: Map(%q) = %q, want %q", tc.from, tc.to, tc.in, got, tc.want)
		}
	}
	if got := (configs.Replication{}).Map("/a"); got != "/a" {
		t.Errorf("no mapping: Map = %q", got)
	}
}
