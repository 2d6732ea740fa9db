package configs_test

import (
	"testing"
	"time"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/zkpath"
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

func TestScope(t *testing.T) {
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
		if got := r.Scope().Contains(p); got != want {
			t.Errorf("Scope().Contains(%q) = %v, want %v", p, got, want)
		}
	}
	// /zookeeper and /zkdr stay out even under include "/" with no exclude.
	all := configs.Replication{Include: []string{"/"}}
	for p, want := range map[string]bool{"/": true, "/a": true, "/zookeeper/quota": false, "/zkdr/site": false, "/zkdrx": true} {
		if got := all.Scope().Contains(p); got != want {
			t.Errorf("include /: Scope().Contains(%q) = %v, want %v", p, got, want)
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
		if got := r.Mapper().Map(tc.in); got != tc.want {
			t.Errorf("%s->%s: Map(%q) = %q, want %q", tc.from, tc.to, tc.in, got, tc.want)
		}
	}
	if got := (configs.Replication{}).Mapper().Map("/a"); got != "/a" {
		t.Errorf("no mapping: Map = %q", got)
	}
}

func TestScopeCarriesPoliciesAndModes(t *testing.T) {
	r := configs.Replication{
		Include:   []string{"/"},
		Ephemeral: configs.EphemeralPersistent,
		Modes: []configs.ModeRule{
			{Pattern: "/app/locks/*", Kind: configs.KindContainer},
			{Pattern: "/app/ttl-*", Kind: configs.KindTTL, TTL: 90 * time.Second},
		},
	}
	s := r.Scope()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := s.EphemeralPolicyFor("/a/e"); got != zkpath.EphemeralPersistent {
		t.Errorf("ephemeral policy = %s, want persistent", got)
	}
	if m, ttl := s.ModeFor("/app/locks/l1"); m != zkpath.ModeContainer || ttl != 0 {
		t.Errorf("ModeFor(lock) = %s %d", m, ttl)
	}
	if m, ttl := s.ModeFor("/app/ttl-1"); m != zkpath.ModeTTL || ttl != 90000 {
		t.Errorf("ModeFor(ttl) = %s %d", m, ttl)
	}
	if got := (configs.Replication{Include: []string{"/"}}).Scope().EphemeralPolicyFor("/a/e"); got != zkpath.EphemeralSkip {
		t.Errorf("default ephemeral policy = %s, want skip", got)
	}
}
