package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/go-zookeeper/zk"
)

// Frame types: the second byte of every message. Part of the wire format.
const (
	frameBatch byte = 1 // one or more whole events
	frameChunk byte = 2 // one part of an event too large for one message
)

const (
	frameHeaderLen  = 2 // version, frame type
	frameTrailerLen = 4 // crc32c
	// maxEventLen bounds what a reassembled chunked event may claim, so a corrupt
	// length cannot make a reader allocate without limit.
	maxEventLen    = 1 << 30
	flagSequential = 1 << 0
	knownFlags     = flagSequential
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// corrupt wraps ErrCorrupt with what was wrong.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// AppendEvent appends the wire encoding of one event (without any message
// framing) to dst and returns the extended slice.
func AppendEvent(dst []byte, ev *Event) []byte {
	var flags byte
	if ev.Sequential {
		flags |= flagSequential
	}
	dst = append(dst, byte(ev.Kind), byte(ev.Mode), flags)
	dst = binary.AppendUvarint(dst, ev.Epoch)
	dst = appendString(dst, ev.Site)
	dst = appendString(dst, ev.Path)
	if ev.Data == nil {
		dst = append(dst, 0)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(ev.Data))+1)
		dst = append(dst, ev.Data...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(ev.ACL)))
	for _, a := range ev.ACL {
		dst = binary.AppendVarint(dst, int64(a.Perms))
		dst = appendString(dst, a.Scheme)
		dst = appendString(dst, a.ID)
	}
	dst = binary.AppendVarint(dst, ev.TTL)
	st := &ev.Stat
	dst = binary.AppendVarint(dst, st.Czxid)
	dst = binary.AppendVarint(dst, st.Mzxid)
	dst = binary.AppendVarint(dst, st.Pzxid)
	dst = binary.AppendVarint(dst, st.Ctime)
	dst = binary.AppendVarint(dst, st.Mtime)
	dst = binary.AppendVarint(dst, int64(st.Version))
	dst = binary.AppendVarint(dst, int64(st.Cversion))
	dst = binary.AppendVarint(dst, int64(st.Aversion))
	dst = binary.AppendVarint(dst, ev.Zxid)
	dst = binary.AppendVarint(dst, ev.Time)
	dst = binary.AppendUvarint(dst, ev.Snapshot)
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// eventSizeHint is an upper bound of an event's encoded size, to size buffers.
func eventSizeHint(ev *Event) int {
	n := 3 + 10 + 2*10 + len(ev.Site) + len(ev.Path) + 10 + len(ev.Data) + 10 + 12*10
	for _, a := range ev.ACL {
		n += 10 + 20 + len(a.Scheme) + len(a.ID)
	}
	return n
}

// DecodeEvent decodes one event encoded by AppendEvent. It is strict: unknown
// kinds, modes or flags, trailing bytes and out-of-range numbers are ErrCorrupt.
func DecodeEvent(b []byte) (Event, error) {
	d := decoder{b: b}
	var ev Event
	if len(b) < 3 {
		return ev, corrupt("event of %d bytes is truncated", len(b))
	}
	ev.Kind, ev.Mode = Kind(b[0]), Mode(b[1])
	flags := b[2]
	d.b = b[3:]
	if ev.Kind < KindCreate || ev.Kind > KindSnapshotEnd {
		return ev, corrupt("unknown event kind %d", b[0])
	}
	if ev.Mode > ModeEphemeral {
		return ev, corrupt("unknown node mode %d", b[1])
	}
	if flags&^knownFlags != 0 {
		return ev, corrupt("unknown event flags %#x", flags)
	}
	ev.Sequential = flags&flagSequential != 0
	ev.Epoch = d.uvarint("epoch")
	ev.Site = d.string("site")
	ev.Path = d.string("path")
	if n := d.uvarint("data length"); n > 0 {
		ev.Data = d.bytes(n-1, "data")
	}
	if n := d.uvarint("acl count"); n > 0 {
		// Each ACL takes at least 3 bytes, which bounds the allocation.
		if n > uint64(len(d.b))/3 {
			d.fail("acl count %d exceeds the remaining %d bytes", n, len(d.b))
		} else {
			ev.ACL = make([]zk.ACL, n)
			for i := range ev.ACL {
				ev.ACL[i].Perms = d.int32("acl perms")
				ev.ACL[i].Scheme = d.string("acl scheme")
				ev.ACL[i].ID = d.string("acl id")
			}
		}
	}
	ev.TTL = d.varint("ttl")
	ev.Stat.Czxid = d.varint("czxid")
	ev.Stat.Mzxid = d.varint("mzxid")
	ev.Stat.Pzxid = d.varint("pzxid")
	ev.Stat.Ctime = d.varint("ctime")
	ev.Stat.Mtime = d.varint("mtime")
	ev.Stat.Version = d.int32("version")
	ev.Stat.Cversion = d.int32("cversion")
	ev.Stat.Aversion = d.int32("aversion")
	ev.Zxid = d.varint("zxid")
	ev.Time = d.varint("time")
	ev.Snapshot = d.uvarint("snapshot")
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes after event", len(d.b))
	}
	if d.err != nil {
		return Event{}, d.err
	}
	return ev, nil
}

// decoder reads fields until the first error, which it keeps; later reads
// return zero values, so a decode function checks once at its end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corrupt(format, args...)
	}
	d.b = nil
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad %s varint", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad %s varint", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32(field string) int32 {
	v := d.varint(field)
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("%s %d out of range", field, v)
		return 0
	}
	return int32(v)
}

func (d *decoder) bytes(n uint64, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s of %d bytes truncated to %d", field, n, len(d.b))
		return nil
	}
	// A copy, so an event never aliases the message buffer it came from.
	out := make([]byte, n)
	copy(out, d.b[:n])
	d.b = d.b[n:]
	return out
}

func (d *decoder) string(field string) string {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("%s of %d bytes truncated to %d", field, n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// EncodeEvents encodes events as one batch message (version, frame type, count,
// length-prefixed events, crc32c). It does not split: the appender sizes
// batches and chunks events that exceed the server's max payload.
func EncodeEvents(events ...Event) []byte {
	n := frameHeaderLen + 10 + frameTrailerLen
	for i := range events {
		n += 5 + eventSizeHint(&events[i])
	}
	buf := make([]byte, 0, n)
	buf = append(buf, SchemaVersion, frameBatch)
	buf = binary.AppendUvarint(buf, uint64(len(events)))
	for i := range events {
		buf = appendEventPrefixed(buf, &events[i])
	}
	return sealFrame(buf)
}

// appendEventPrefixed appends an event with its length prefix without a
// scratch buffer: it encodes after a gap wide enough for any prefix, then
// moves the body down next to the actual prefix.
func appendEventPrefixed(buf []byte, ev *Event) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, binary.MaxVarintLen32)...)
	buf = AppendEvent(buf, ev)
	n := len(buf) - start - binary.MaxVarintLen32
	var pre [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(pre[:], uint64(n))
	copy(buf[start:], pre[:k])
	copy(buf[start+k:], buf[start+binary.MaxVarintLen32:])
	return buf[:start+k+n]
}

// appendBody appends one length-prefixed encoded event to a batch frame.
func appendBody(buf, body []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	return append(buf, body...)
}

// sealFrame appends the crc32c of everything before it.
func sealFrame(buf []byte) []byte {
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

// encodeChunk frames one part of an event's encoding.
func encodeChunk(part, parts int, total int, piece []byte) []byte {
	buf := make([]byte, 0, frameHeaderLen+3*10+len(piece)+frameTrailerLen)
	buf = append(buf, SchemaVersion, frameChunk)
	buf = binary.AppendUvarint(buf, uint64(part))
	buf = binary.AppendUvarint(buf, uint64(parts))
	buf = binary.AppendUvarint(buf, uint64(total))
	buf = append(buf, piece...)
	return sealFrame(buf)
}

// frame is one decoded message: either whole events or one chunk.
type frame struct {
	typ    byte
	events []Event
	part   int
	parts  int
	total  int
	piece  []byte
}

// decodeFrame checks a message's version and checksum and decodes its frame.
// Errors wrap ErrUnknownVersion or ErrCorrupt; the caller adds the sequence.
func decodeFrame(data []byte) (frame, error) {
	var f frame
	if len(data) == 0 {
		return f, corrupt("empty message")
	}
	if data[0] != SchemaVersion {
		return f, fmt.Errorf("%w: version %d, this build reads %d", ErrUnknownVersion, data[0], SchemaVersion)
	}
	if len(data) < frameHeaderLen+frameTrailerLen {
		return f, corrupt("message of %d bytes is truncated", len(data))
	}
	body, sum := data[:len(data)-frameTrailerLen], binary.BigEndian.Uint32(data[len(data)-frameTrailerLen:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return f, corrupt("checksum %08x, message says %08x", got, sum)
	}
	f.typ = body[1]
	d := decoder{b: body[frameHeaderLen:]}
	switch f.typ {
	case frameBatch:
		n := d.uvarint("event count")
		if d.err == nil && (n == 0 || n > uint64(len(d.b))) {
			d.fail("event count %d for %d bytes", n, len(d.b))
		}
		if d.err != nil {
			return f, d.err
		}
		f.events = make([]Event, 0, n)
		for i := uint64(0); i < n; i++ {
			l := d.uvarint("event length")
			if d.err != nil {
				return f, d.err
			}
			if l > uint64(len(d.b)) {
				return f, corrupt("event %d of %d bytes truncated to %d", i, l, len(d.b))
			}
			ev, err := DecodeEvent(d.b[:l])
			if err != nil {
				return f, fmt.Errorf("event %d: %w", i, err)
			}
			f.events = append(f.events, ev)
			d.b = d.b[l:]
		}
		if len(d.b) != 0 {
			return f, corrupt("%d trailing bytes after %d events", len(d.b), n)
		}
	case frameChunk:
		part, parts, total := d.uvarint("chunk part"), d.uvarint("chunk parts"), d.uvarint("chunk total")
		if d.err != nil {
			return f, d.err
		}
		if parts < 2 || part >= parts || total > maxEventLen || len(d.b) == 0 || uint64(len(d.b)) > total {
			return f, corrupt("chunk %d/%d of an event of %d bytes with %d bytes", part, parts, total, len(d.b))
		}
		f.part, f.parts, f.total = int(part), int(parts), int(total)
		f.piece = d.b
	default:
		return f, corrupt("unknown frame type %d", f.typ)
	}
	return f, nil
}

// DecodeEvents decodes a message holding whole events (not a chunk of one).
// Errors wrap ErrUnknownVersion or ErrCorrupt; the Reader adds the stream
// sequence by returning a *DecodeError.
func DecodeEvents(data []byte) ([]Event, error) {
	f, err := decodeFrame(data)
	if err != nil {
		return nil, err
	}
	if f.typ != frameBatch {
		return nil, corrupt("message is chunk %d/%d of a larger event", f.part, f.parts)
	}
	return f.events, nil
}
