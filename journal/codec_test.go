package journal

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/go-zookeeper/zk"
)

func sampleEvent(dataLen int) Event {
	data := bytes.Repeat([]byte{'x'}, dataLen)
	return Event{
		Site: "east", Epoch: 3, Kind: KindUpdate, Path: "/app/config/service-42",
		Data: data, ACL: zk.WorldACL(zk.PermAll), Mode: ModeTTL, Sequential: true, TTL: 60000,
		Stat: Stat{Czxid: 0x100000001, Mzxid: 0x100000abc, Pzxid: 0x100000002, Ctime: 1700000000000,
			Mtime: 1700000001000, Version: 7, Cversion: -1, Aversion: 2},
		Zxid: 0x100000abc, Time: 1700000001000000000, Snapshot: 9,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	cases := map[string][]Event{
		"one full event": {sampleEvent(100)},
		"zero event":     {{Kind: KindHeartbeat}},
		"nil and empty data": {
			{Kind: KindCreate, Path: "/a", Data: nil},
			{Kind: KindCreate, Path: "/b", Data: []byte{}},
		},
		"negative numbers": {{Kind: KindDelete, Path: "/d", Zxid: -1, TTL: -5, Stat: Stat{Version: -2147483648, Cversion: 2147483647}}},
		"several acls": {{Kind: KindACL, Path: "/acl", ACL: []zk.ACL{
			{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
			{Perms: zk.PermAll, Scheme: "digest", ID: "user:hash="},
		}}},
		"batch": {sampleEvent(10), sampleEvent(0), {Kind: KindSnapshotEnd, Snapshot: 1}},
	}
	for name, evs := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeEvents(EncodeEvents(evs...))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, evs) {
				t.Fatalf("round trip changed events:\n got %#v\nwant %#v", got, evs)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := EncodeEvents(sampleEvent(100))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	reseal := func(mut func([]byte) []byte) []byte {
		b := mut(bytes.Clone(good[:len(good)-4]))
		return sealFrame(b)
	}
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"unknown version", append([]byte{2}, good[1:]...), ErrUnknownVersion},
		{"version zero", append([]byte{0}, good[1:]...), ErrUnknownVersion},
		{"truncated", good[:len(good)-10], ErrCorrupt},
		{"header only", good[:3], ErrCorrupt},
		{"bit flip in data", flip(len(good) / 2), ErrCorrupt},
		{"bit flip in checksum", flip(len(good) - 1), ErrCorrupt},
		{"unknown frame type", reseal(func(b []byte) []byte { b[1] = 9; return b }), ErrCorrupt},
		{"unknown kind", reseal(func(b []byte) []byte { b[4] = 99; return b }), ErrCorrupt},
		{"trailing bytes", reseal(func(b []byte) []byte { return append(b, 0) }), ErrCorrupt},
		{"zero events", sealFrame([]byte{SchemaVersion, frameBatch, 0}), ErrCorrupt},
		{"huge count", sealFrame([]byte{SchemaVersion, frameBatch, 0xff, 0xff, 0xff, 0xff, 0x0f}), ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeEvents(c.msg)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestChunkFrames(t *testing.T) {
	ev := sampleEvent(3000)
	body := AppendEvent(nil, &ev)
	const piece = 1000
	parts := (len(body) + piece - 1) / piece
	var joined []byte
	for p := 0; p < parts; p++ {
		f, err := decodeFrame(encodeChunk(p, parts, len(body), body[p*piece:min((p+1)*piece, len(body))]))
		if err != nil {
			t.Fatal(err)
		}
		if f.typ != frameChunk || f.part != p || f.parts != parts || f.total != len(body) {
			t.Fatalf("chunk %d decoded as %+v", p, f)
		}
		joined = append(joined, f.piece...)
	}
	got, err := DecodeEvent(joined)
	if err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("reassembled event differs (err %v)", err)
	}
	if _, err := DecodeEvents(encodeChunk(0, 2, len(body), body[:10])); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a chunk read as whole events: %v", err)
	}
	if _, err := decodeFrame(encodeChunk(2, 2, 10, []byte("abc"))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("chunk part beyond parts accepted: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(EncodeEvents(sampleEvent(100)))
	f.Add(EncodeEvents(sampleEvent(0), Event{Kind: KindHeartbeat, Zxid: 5}))
	f.Add(encodeChunk(1, 3, 100, []byte("piece")))
	f.Add([]byte{SchemaVersion})
	f.Fuzz(func(t *testing.T, msg []byte) {
		evs, err := DecodeEvents(msg)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownVersion) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrUnknownVersion", err)
			}
			return
		}
		again, err := DecodeEvents(EncodeEvents(evs...))
		if err != nil || !reflect.DeepEqual(again, evs) {
			t.Fatalf("re-encoding decoded events does not round-trip (err %v)", err)
		}
	})
}

// FuzzDecodeEvent reaches the event decoder without the checksum in the way.
func FuzzDecodeEvent(f *testing.F) {
	ev := sampleEvent(20)
	f.Add(AppendEvent(nil, &ev))
	f.Add(AppendEvent(nil, &Event{Kind: KindDelete, Path: "/x"}))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeEvent(body)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := DecodeEvent(AppendEvent(nil, &ev))
		if err != nil || !reflect.DeepEqual(again, ev) {
			t.Fatalf("event does not round-trip (err %v)", err)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	ev := sampleEvent(100)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(EncodeEvents(ev))
	}
	b.SetBytes(int64(n))
}

func BenchmarkDecode(b *testing.B) {
	msg := EncodeEvents(sampleEvent(100))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := DecodeEvents(msg); err != nil {
			b.Fatal(err)
		}
	}
}
