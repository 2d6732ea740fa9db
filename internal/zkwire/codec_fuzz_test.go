package zkwire

import (
	"bytes"
	"testing"
)

// FuzzDecodeReply feeds arbitrary bytes to the frame reader and every reply
// decoder: none may panic, and nothing decoded may be larger than the input,
// so a hostile or corrupt server cannot make the client allocate at will.
func FuzzDecodeReply(f *testing.F) {
	var e encoder
	e.buffer([]byte("data"))
	e.stat(&sampleStat)
	f.Add(append([]byte(nil), e.buf...))
	e.reset()
	e.strings([]string{"a", "bb"})
	e.stat(&sampleStat)
	f.Add(append([]byte(nil), e.buf...))
	e.reset()
	e.multiHeader(multiHeader{Type: opGetData})
	e.buffer(nil)
	e.stat(&sampleStat)
	e.multiHeader(multiHeader{Type: opError})
	e.int32(codeNoNode)
	e.multiHeader(multiHeader{Type: -1, Done: true})
	f.Add(append([]byte(nil), e.buf...))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, in []byte) {
		limit := len(in)
		checkBytes := func(what string, n int) {
			if n > limit {
				t.Fatalf("%s: %d bytes decoded from %d bytes", what, n, limit)
			}
		}

		buf, err := readFrame(bytes.NewReader(in), nil)
		if cap(buf) > 2*len(in)+readChunk {
			t.Fatalf("readFrame allocated %d bytes for %d bytes of input", cap(buf), len(in))
		}
		if err == nil && len(buf)+4 > len(in) {
			t.Fatalf("frame of %d bytes from %d bytes", len(buf), len(in))
		}

		if r, err := decodeConnectResponse(in); err == nil {
			checkBytes("connect passwd", len(r.Passwd))
		}
		d := newDecoder(in)
		_ = d.replyHeader()
		if w, err := decodeWatcherEvent(d); err == nil {
			checkBytes("watcher path", len(w.Path))
		}
		if v, err := decodeData(newDecoder(in)); err == nil {
			checkBytes("data", len(v.Data))
		}
		_, _ = decodeStat(newDecoder(in))
		if v, err := decodeChildren2(newDecoder(in)); err == nil {
			checkBytes("children", 4*len(v.Names))
		}
		if v, err := decodeACL(newDecoder(in)); err == nil {
			checkBytes("acl", 12*len(v.ACL))
		}
		if v, err := decodePath(newDecoder(in)); err == nil {
			checkBytes("path", len(v))
		}
		want := 0
		if len(in) > 0 {
			want = int(in[0])
		}
		if v, err := decodeMultiRead(newDecoder(in), want); err == nil {
			checkBytes("multiRead", 9*len(v))
			for _, r := range v {
				checkBytes("multiRead data", len(r.Data))
				checkBytes("multiRead children", 4*len(r.Children))
			}
		}
	})
}
