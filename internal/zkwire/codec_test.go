package zkwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

var sampleStat = zk.Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7,
	EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		encode func(*encoder)
		decode func(*decoder) (any, error)
		want   any
	}{
		{"data", func(e *encoder) { e.buffer([]byte("abc")); e.stat(&sampleStat) },
			func(d *decoder) (any, error) { return decodeData(d) }, Data{Data: []byte("abc"), Stat: sampleStat}},
		{"null data", func(e *encoder) { e.buffer(nil); e.stat(&sampleStat) },
			func(d *decoder) (any, error) { return decodeData(d) }, Data{Stat: sampleStat}},
		{"empty data", func(e *encoder) { e.buffer([]byte{}); e.stat(&sampleStat) },
			func(d *decoder) (any, error) { return decodeData(d) }, Data{Data: []byte{}, Stat: sampleStat}},
		{"stat", func(e *encoder) { e.stat(&sampleStat) },
			func(d *decoder) (any, error) { return decodeStat(d) }, sampleStat},
		{"children", func(e *encoder) { e.strings([]string{"a", "", "ccc"}); e.stat(&sampleStat) },
			func(d *decoder) (any, error) { return decodeChildren2(d) }, Children{Names: []string{"a", "", "ccc"}, Stat: sampleStat}},
		{"acl", func(e *encoder) { e.acls(zk.DigestACL(zk.PermAll, "u", "p")); e.stat(&sampleStat) },
			func(d *decoder) (any, error) { return decodeACL(d) }, ACLs{ACL: zk.DigestACL(zk.PermAll, "u", "p"), Stat: sampleStat}},
		{"path", func(e *encoder) { e.string("/a/b") },
			func(d *decoder) (any, error) { return decodePath(d) }, "/a/b"},
		{"watcher event", func(e *encoder) { e.int32(3); e.int32(3); e.string("/x") },
			func(d *decoder) (any, error) { return decodeWatcherEvent(d) }, watcherEvent{Type: 3, State: 3, Path: "/x"}},
		{"multiRead", func(e *encoder) {
			e.multiHeader(multiHeader{Type: opGetData})
			e.buffer([]byte("d"))
			e.stat(&sampleStat)
			e.multiHeader(multiHeader{Type: opError, Err: -1})
			e.int32(codeNoNode)
			e.multiHeader(multiHeader{Type: opGetChildren})
			e.strings([]string{"k"})
			e.multiHeader(multiHeader{Type: -1, Done: true, Err: -1})
		}, func(d *decoder) (any, error) { return decodeMultiRead(d, 3) }, []ReadResult{
			{Data: []byte("d"), Stat: sampleStat}, {Err: zk.ErrNoNode}, {Children: []string{"k"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e encoder
			tt.encode(&e)
			got, err := tt.decode(newDecoder(e.buf))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			// Every strict prefix is a protocol error, never a panic.
			for n := range len(e.buf) {
				if _, err := tt.decode(newDecoder(e.buf[:n])); !errors.Is(err, ErrProtocol) {
					t.Fatalf("prefix of %d bytes: err %v, want ErrProtocol", n, err)
				}
			}
		})
	}
}

func TestConnectRoundTrip(t *testing.T) {
	var e encoder
	req := connectRequest{LastZxidSeen: 42, TimeOut: 10000, SessionID: 7, Passwd: []byte("0123456789abcdef")}
	req.encode(&e)
	frame, err := readFrame(bytes.NewReader(e.buf), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(frame)
	got := connectRequest{ProtocolVersion: d.int32(), LastZxidSeen: d.int64(), TimeOut: d.int32(), SessionID: d.int64(), Passwd: d.buffer(), ReadOnly: d.bool()}
	if d.err != nil || d.remaining() != 0 || !reflect.DeepEqual(got, req) {
		t.Fatalf("decoded %+v (%v, %d left), want %+v", got, d.err, d.remaining(), req)
	}

	// A response without the trailing readOnly byte (servers before 3.4) decodes.
	e.reset()
	e.int32(0)
	e.int32(4000)
	e.int64(99)
	e.buffer([]byte("pw"))
	resp, err := decodeConnectResponse(e.buf)
	if err != nil || resp.TimeOut != 4000 || resp.SessionID != 99 || string(resp.Passwd) != "pw" || resp.ReadOnly {
		t.Fatalf("response %+v %v", resp, err)
	}
	e.bool(true)
	if resp, err := decodeConnectResponse(e.buf); err != nil || !resp.ReadOnly {
		t.Fatalf("response with readOnly %+v %v", resp, err)
	}
}

func TestMultiReadRequestEncoding(t *testing.T) {
	var e encoder
	frame := encodeRequest(&e, &request{xid: 5, opcode: opMultiRead, ops: []ReadOp{{Path: "/a"}, {Path: "/b", Children: true}}})
	var w encoder
	w.requestHeader(5, opMultiRead)
	w.multiHeader(multiHeader{Type: opGetData, Err: -1})
	w.string("/a")
	w.bool(false)
	w.multiHeader(multiHeader{Type: opGetChildren, Err: -1})
	w.string("/b")
	w.bool(false)
	w.multiHeader(multiHeader{Type: -1, Done: true, Err: -1})
	if want := w.finish(); !bytes.Equal(frame, want) {
		t.Fatalf("frame %x, want %x", frame, want)
	}
}

func TestMultiReadResultCountMismatch(t *testing.T) {
	var e encoder
	e.multiHeader(multiHeader{Type: opGetChildren})
	e.strings(nil)
	e.multiHeader(multiHeader{Type: -1, Done: true, Err: -1})
	if _, err := decodeMultiRead(newDecoder(e.buf), 2); !errors.Is(err, ErrProtocol) {
		t.Fatalf("err %v, want ErrProtocol", err)
	}
}

func TestSplitSetWatches(t *testing.T) {
	watches := map[string]int32{}
	long := "/" + strings.Repeat("x", 1000)
	for i := range 400 {
		p := long + "/" + string(rune('a'+i%26)) + strings.Repeat("y", i)
		watches[p] = int32(i % 2)
	}
	sets := splitSetWatches(77, watches)
	if len(sets) < 3 {
		t.Fatalf("%d sets for %d watches of about 1.2 KB", len(sets), len(watches))
	}
	seen := map[string]int32{}
	for _, s := range sets {
		size := 0
		for _, p := range s.Persistent {
			seen[p] = modePersistent
			size += len(p) + 4
		}
		for _, p := range s.PersistentRecursive {
			seen[p] = modePersistentRecursive
			size += len(p) + 4
		}
		if size > maxSetWatchesPaths || s.RelativeZxid != 77 {
			t.Fatalf("set of %d path bytes, zxid %d", size, s.RelativeZxid)
		}
		var e encoder
		s.encode(&e)
		if len(e.buf) > maxSetWatchesPaths+64 {
			t.Fatalf("frame of %d bytes", len(e.buf))
		}
	}
	if !reflect.DeepEqual(seen, watches) {
		t.Fatalf("split lost or changed watches")
	}
	if sets := splitSetWatches(1, nil); len(sets) != 0 {
		t.Fatalf("sets for no watches: %+v", sets)
	}
}

func TestReadFrame(t *testing.T) {
	frame := func(n int32, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(n)), body...)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"ok", frame(3, []byte("abc")), nil},
		{"empty", frame(0, nil), nil},
		{"negative", frame(-1, nil), ErrProtocol},
		{"too large", frame(maxFrame+1, nil), ErrProtocol},
		{"truncated body", frame(10, []byte("abc")), io.ErrUnexpectedEOF},
		{"truncated length", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"lying length", frame(maxFrame, []byte("abc")), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf, err := readFrame(bytes.NewReader(tt.in), nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if cap(buf) > 2*len(tt.in)+readChunk {
				t.Fatalf("allocated %d bytes for %d bytes of input", cap(buf), len(tt.in))
			}
		})
	}
	// A frame larger than one chunk arrives whole.
	big := bytes.Repeat([]byte{7}, 3*readChunk+5)
	got, err := readFrame(bytes.NewReader(frame(int32(len(big)), big)), nil)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big frame: %v, %d bytes", err, len(got))
	}
}

func TestDecoderBoundsLengths(t *testing.T) {
	// A vector count of a billion in a 12-byte frame must fail before allocating.
	var e encoder
	e.int32(1 << 30)
	e.int64(0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := decodeChildren2(newDecoder(e.buf)); !errors.Is(err, ErrProtocol) {
			t.Fatalf("err %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("allocated %d bytes", n)
	}
}

func TestCodeErrors(t *testing.T) {
	tests := []struct {
		code int32
		want error
	}{
		{codeOK, nil},
		{codeNoNode, zk.ErrNoNode},
		{codeNodeExists, zk.ErrNodeExists},
		{codeBadVersion, zk.ErrBadVersion},
		{codeNoAuth, zk.ErrNoAuth},
		{codeNotEmpty, zk.ErrNotEmpty},
		{codeUnimplemented, ErrUnimplemented},
		{codeSessionExpired, zk.ErrSessionExpired},
		{codeAuthFailed, zk.ErrAuthFailed},
		{codeBadArguments, zk.ErrBadArguments},
		{codeInvalidACL, zk.ErrInvalidACL},
		{codeSessionMoved, zk.ErrSessionMoved},
		{codeMarshalling, zk.ErrUnknown},
		{-999, zk.ErrUnknown},
	}
	for _, tt := range tests {
		if err := codeError(tt.code); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("code %d: %v, want %v", tt.code, err, tt.want)
		}
	}
	var se *ServerError
	if !errors.As(codeError(-5), &se) || se.Code != -5 {
		t.Errorf("code -5 lost its number")
	}
	if err := error(authError{}); !errors.Is(err, ErrAuthFailed) || !errors.Is(err, zk.ErrAuthFailed) {
		t.Errorf("auth error %v", err)
	}
}
