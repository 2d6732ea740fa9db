package zkwire

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/go-zookeeper/zk"
)

// maxFrame is the largest frame either side accepts. ZooKeeper's own limit
// (jute.maxbuffer) defaults to 1 MiB; 64 MiB leaves room for raised limits while
// still refusing a length that can only be garbage.
const maxFrame = 64 << 20

// readChunk bounds how much readFrame allocates ahead of the bytes it has
// actually received, so a bad length cannot make it allocate 64 MiB up front.
const readChunk = 64 << 10

// encoder appends jute records, big-endian, to buf. A frame starts with a
// placeholder length that finish fills in.
type encoder struct {
	buf []byte
}

func (e *encoder) reset() { e.buf = e.buf[:0] }

// start begins a frame: four bytes for the length.
func (e *encoder) start() { e.buf = append(e.buf[:0], 0, 0, 0, 0) }

// finish writes the frame length (everything after the length itself).
func (e *encoder) finish() []byte {
	binary.BigEndian.PutUint32(e.buf[:4], uint32(len(e.buf)-4))
	return e.buf
}

func (e *encoder) int32(v int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }
func (e *encoder) int64(v int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }

func (e *encoder) bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

func (e *encoder) string(s string) {
	e.int32(int32(len(s)))
	e.buf = append(e.buf, s...)
}

// buffer writes b; a nil b is jute's null buffer (length -1).
func (e *encoder) buffer(b []byte) {
	if b == nil {
		e.int32(-1)
		return
	}
	e.int32(int32(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) strings(v []string) {
	e.int32(int32(len(v)))
	for _, s := range v {
		e.string(s)
	}
}

func (e *encoder) acls(v []zk.ACL) {
	e.int32(int32(len(v)))
	for _, a := range v {
		e.int32(a.Perms)
		e.string(a.Scheme)
		e.string(a.ID)
	}
}

func (e *encoder) stat(s *zk.Stat) {
	e.int64(s.Czxid)
	e.int64(s.Mzxid)
	e.int64(s.Ctime)
	e.int64(s.Mtime)
	e.int32(s.Version)
	e.int32(s.Cversion)
	e.int32(s.Aversion)
	e.int64(s.EphemeralOwner)
	e.int32(s.DataLength)
	e.int32(s.NumChildren)
	e.int64(s.Pzxid)
}

// requestHeader starts a request frame.
func (e *encoder) requestHeader(xid, opcode int32) {
	e.start()
	e.int32(xid)
	e.int32(opcode)
}

// decoder reads jute records from one frame body. The first failure sticks:
// later reads return zero values and err stays set, so a record decoder checks
// err once at its end. Every length is bounded by the bytes that remain, so a
// bad frame never causes an allocation larger than the frame itself.
type decoder struct {
	b   []byte
	off int
	err error
}

func newDecoder(b []byte) *decoder { return &decoder{b: b} }

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.fail("record needs %d bytes at offset %d, frame has %d", n, d.off, len(d.b))
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) int32() int32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

func (d *decoder) int64() int64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

func (d *decoder) bool() bool {
	p := d.take(1)
	return p != nil && p[0] != 0
}

// length reads a jute length: -1 is null (returned as -1), other negatives and
// lengths past the frame's end are protocol errors.
func (d *decoder) length(minItem int) int {
	n := d.int32()
	if d.err != nil || n == -1 {
		return -1
	}
	if n < 0 || int64(n)*int64(minItem) > int64(d.remaining()) {
		d.fail("length %d at offset %d exceeds frame of %d bytes", n, d.off-4, len(d.b))
		return -1
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.length(1)
	if n <= 0 {
		return ""
	}
	return string(d.take(n))
}

// buffer returns a copy of a jute buffer (the frame's bytes are reused); null
// is nil, empty is a non-nil empty slice.
func (d *decoder) buffer() []byte {
	n := d.length(1)
	if n < 0 {
		return nil
	}
	p := d.take(n)
	if p == nil {
		return nil
	}
	return append(make([]byte, 0, n), p...)
}

func (d *decoder) strings() []string {
	n := d.length(4) // every string takes at least its length
	if n < 0 {
		return nil
	}
	v := make([]string, 0, n)
	for range n {
		v = append(v, d.string())
		if d.err != nil {
			return nil
		}
	}
	return v
}

func (d *decoder) acls() []zk.ACL {
	n := d.length(12) // perms + two string lengths
	if n < 0 {
		return nil
	}
	v := make([]zk.ACL, 0, n)
	for range n {
		var a zk.ACL
		a.Perms = d.int32()
		a.Scheme = d.string()
		a.ID = d.string()
		if d.err != nil {
			return nil
		}
		v = append(v, a)
	}
	return v
}

func (d *decoder) stat() zk.Stat {
	var s zk.Stat
	s.Czxid = d.int64()
	s.Mzxid = d.int64()
	s.Ctime = d.int64()
	s.Mtime = d.int64()
	s.Version = d.int32()
	s.Cversion = d.int32()
	s.Aversion = d.int32()
	s.EphemeralOwner = d.int64()
	s.DataLength = d.int32()
	s.NumChildren = d.int32()
	s.Pzxid = d.int64()
	return s
}

// readFrame reads one length-prefixed frame into buf (grown as needed and
// returned for reuse). It allocates at most readChunk bytes beyond what it has
// received, so a lying length costs no more memory than the bytes sent.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 0 || n > maxFrame {
		return buf, fmt.Errorf("%w: frame length %d", ErrProtocol, n)
	}
	buf = buf[:0]
	for int64(len(buf)) < n {
		want := min(n-int64(len(buf)), readChunk)
		if int64(cap(buf)-len(buf)) < want {
			grown := make([]byte, len(buf), len(buf)+int(max(want, min(n, int64(len(buf))))))
			copy(grown, buf)
			buf = grown
		}
		start := len(buf)
		buf = buf[:start+int(want)]
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf[:0], err
		}
	}
	return buf, nil
}
