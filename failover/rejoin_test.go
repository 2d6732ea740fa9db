package failover

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDivergenceReportRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	nodes := []DivergentNode{
		{Path: "/a", Data: []byte{0, 1, 2}, ReplacedBy: ReplacedByDeleted, ACL: []ACLEntry{{Perms: 31, Scheme: "world", ID: "anyone"}}},
		{Path: "/b", Data: []byte("x"), ReplacedBy: ReplacedByData, Stat: NodeStat{Mzxid: 7}},
	}
	path, err := writeDivergenceReport(dir, "east", 2, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(path) || filepath.Dir(path) != mustAbs(t, dir) {
		t.Fatalf("report at %s, want under %s", path, dir)
	}
	got, err := ReadDivergenceReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != "/a" || string(got[0].Data) != "\x00\x01\x02" || got[1].Stat.Mzxid != 7 {
		t.Fatalf("read back %+v", got)
	}
	// An empty comparison still leaves its file.
	empty, err := writeDivergenceReport(dir, "east", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(empty); err != nil || st.Size() != 0 {
		t.Fatalf("empty report: %v %v", st, err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(struct{ D Duration }{Duration(1500 * time.Millisecond)})
	if err != nil || string(b) != `{"D":"1.5s"}` {
		t.Fatalf("%s %v", b, err)
	}
	var v struct{ D Duration }
	if err := json.Unmarshal(b, &v); err != nil || v.D != Duration(1500*time.Millisecond) {
		t.Fatalf("%v %v", v, err)
	}
}
