package zkpath

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestScope(t *testing.T) {
	s := Scope{
		Include:   []string{"/a", "/a/b", "/c", "/zkdr"},
		Exclude:   []string{"/a/x"},
		Ephemeral: []EphemeralRule{{"/a", EphemeralPersistent}, {"/a/locks", EphemeralSkip}},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"/a": true, "/a/b/c": true, "/a/x": false, "/a/x/y": false, "/a/xy": true,
		"/c": true, "/cd": false, "/d": false, "/zkdr": false, "/zkdr/heartbeat": false, "/zookeeper": false,
	} {
		if got := s.Contains(p); got != want {
			t.Errorf("Contains(%q) = %v, want %v", p, got, want)
		}
	}
	if got := s.Roots(); !reflect.DeepEqual(got, []string{"/a", "/c"}) {
		t.Errorf("Roots() = %v", got)
	}
	if got := (Scope{}).Roots(); !reflect.DeepEqual(got, []string{"/"}) {
		t.Errorf("default roots = %v", got)
	}
	for p, want := range map[string]EphemeralPolicy{"/a/e": EphemeralPersistent, "/a/locks/l": EphemeralSkip, "/b/e": EphemeralSkip} {
		if got := s.EphemeralPolicyFor(p); got != want {
			t.Errorf("EphemeralPolicyFor(%q) = %s, want %s", p, got, want)
		}
	}
	for _, bad := range []Scope{
		{Include: []string{"a"}},
		{Exclude: []string{"/a/"}},
		{Ephemeral: []EphemeralRule{{"/a", "keep"}}},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("Validate(%+v) = %v", bad, err)
		}
	}
	if got := Parent("/a/b"); got != "/a" {
		t.Errorf("Parent = %q", got)
	}
	if got := Parent("/a"); got != "/" {
		t.Errorf("Parent = %q", got)
	}
}

func TestScopeModeFor(t *testing.T) {
	s := Scope{Modes: []ModeRule{
		{Pattern: "/app/locks/*", Mode: ModeContainer},
		{Pattern: "/app/*/ttl-*", Mode: ModeTTL, TTL: 90 * time.Second},
	}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		mode NodeMode
		ttl  int64
	}{
		{"/app/locks/l1", ModeContainer, 0},
		{"/app/locks", ModePersistent, 0},
		{"/app/locks/l1/child", ModePersistent, 0},
		{"/app/x/ttl-1", ModeTTL, 90000},
		{"/other", ModePersistent, 0},
	} {
		if m, ttl := s.ModeFor(tc.path); m != tc.mode || ttl != tc.ttl {
			t.Errorf("ModeFor(%s) = %s %d, want %s %d", tc.path, m, ttl, tc.mode, tc.ttl)
		}
	}
	for _, bad := range []ModeRule{
		{Pattern: "app/*", Mode: ModeContainer},
		{Pattern: "/a/[", Mode: ModeContainer},
		{Pattern: "/a", Mode: ModeTTL},
		{Pattern: "/a", Mode: "ephemeral"},
	} {
		if err := (Scope{Modes: []ModeRule{bad}}).Validate(); err == nil {
			t.Errorf("rule %+v accepted", bad)
		}
	}
}
