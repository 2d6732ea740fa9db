package zkconn

import "testing"

func TestSrvrField(t *testing.T) {
	reply := "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x12d\nMode: follower\nNode count: 5\n"
	for name, want := range map[string]string{"Mode": "follower", "Zxid": "0x12d", "Outstanding": ""} {
		if got := SrvrField(reply, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := SrvrField("This ZooKeeper instance is not currently serving requests\n", "Mode"); got != "" {
		t.Errorf("mode of a server not serving = %q", got)
	}
}

func TestFirstAtOrAfter(t *testing.T) {
	log := []Digest{{Zxid: 0x80, Value: 1}, {Zxid: 0x100, Value: 2}}
	if d, ok := firstAtOrAfter(log, 0x81); !ok || d.Value != 2 {
		t.Errorf("first at or after 0x81 = %+v, %v", d, ok)
	}
	if d, ok := firstAtOrAfter(log, 0x80); !ok || d.Value != 1 {
		t.Errorf("first at or after 0x80 = %+v, %v", d, ok)
	}
	if _, ok := firstAtOrAfter(log, 0x101); ok {
		t.Error("found a digest after the last one logged")
	}
}
