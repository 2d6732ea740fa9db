package zkpath

import "testing"

func TestMapper(t *testing.T) {
	m := Mapper{
		Scope: Scope{Include: []string{"/app", "/etc"}, Exclude: []string{"/app/tmp"}},
		Maps:  []PathMap{{From: "/app", To: "/dr/app"}},
	}
	for _, c := range []struct{ src, dst string }{
		{"/app", "/dr/app"}, {"/app/x/y", "/dr/app/x/y"}, {"/etc/a", "/etc/a"}, {"/application", "/application"},
	} {
		if got := m.Map(c.src); got != c.dst {
			t.Errorf("Map(%s) = %s, want %s", c.src, got, c.dst)
		}
	}
	for _, c := range []struct {
		dst, src string
		ok       bool
	}{
		{"/dr/app/x", "/app/x", true},
		{"/etc/a", "/etc/a", true},
		{"/app/x", "", false},        // /app/x is written to /dr/app/x, never here
		{"/dr/app/tmp/1", "", false}, // excluded
		{"/dr", "", false},           // above the mapped prefix: not replicated
		{"/zkdr/applied", "", false},
	} {
		src, ok := m.Source(c.dst)
		if ok != c.ok || src != c.src {
			t.Errorf("Source(%s) = %q, %t; want %q, %t", c.dst, src, ok, c.src, c.ok)
		}
	}
	deep := Mapper{Scope: Scope{}, Maps: []PathMap{{From: "/a/b", To: "/c/d"}}}
	if !deep.MovedBelow("/a") || !deep.MovedBelow("/") || deep.MovedBelow("/a/b") || deep.MovedBelow("/c") {
		t.Error("MovedBelow: a subtree holding a moved prefix must be split, the moved prefix itself not")
	}
	if got := deep.ForeignBelow("/c", "/c"); len(got) != 1 || got[0] != "/c/d" {
		t.Errorf("ForeignBelow(/c) = %v: the walk of /c on the standby must skip /c/d, which holds /a/b", got)
	}
	if got := deep.ForeignBelow("/a/b", "/c/d"); len(got) != 0 {
		t.Errorf("ForeignBelow(/a/b) = %v, want nothing", got)
	}
}
