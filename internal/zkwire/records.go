package zkwire

import (
	"github.com/go-zookeeper/zk"
)

// Opcodes of the requests this package speaks.
const (
	opCreate       = 1
	opExists       = 3
	opGetData      = 4
	opSetData      = 5
	opGetACL       = 6
	opGetChildren  = 8
	opSync         = 9
	opPing         = 11
	opGetChildren2 = 12
	opMultiRead    = 22
	opAuth         = 100
	opSetWatches2  = 105
	opAddWatch     = 106
	opClose        = -11
	opError        = -1 // a MultiHeader type: ErrorResult follows
)

// Special xids: replies and messages that answer no queued request.
const (
	xidNotification = -1
	xidPing         = -2
	xidAuth         = -4
	xidSetWatches   = -8
)

// Watch modes of addWatch.
const (
	modePersistent          = 0
	modePersistentRecursive = 1
)

// connectRequest is the first frame a client sends on a connection.
type connectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
}

func (r *connectRequest) encode(e *encoder) {
	e.start()
	e.int32(r.ProtocolVersion)
	e.int64(r.LastZxidSeen)
	e.int32(r.TimeOut)
	e.int64(r.SessionID)
	e.buffer(r.Passwd)
	e.bool(r.ReadOnly)
	e.finish()
}

// connectResponse is the server's answer to connectRequest. TimeOut <= 0 means
// the session asked for has expired.
type connectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
}

// decodeConnectResponse decodes a connect response frame body. readOnly is
// optional: servers before 3.4 do not send it.
func decodeConnectResponse(b []byte) (connectResponse, error) {
	d := newDecoder(b)
	var r connectResponse
	r.ProtocolVersion = d.int32()
	r.TimeOut = d.int32()
	r.SessionID = d.int64()
	r.Passwd = d.buffer()
	if d.err == nil && d.remaining() > 0 {
		r.ReadOnly = d.bool()
	}
	return r, d.err
}

// replyHeader starts every frame after the connect response.
type replyHeader struct {
	Xid  int32
	Zxid int64
	Err  int32
}

func (d *decoder) replyHeader() replyHeader {
	return replyHeader{Xid: d.int32(), Zxid: d.int64(), Err: d.int32()}
}

// watcherEvent is the body of a notification (xid -1).
type watcherEvent struct {
	Type  int32
	State int32
	Path  string
}

func decodeWatcherEvent(d *decoder) (watcherEvent, error) {
	w := watcherEvent{Type: d.int32(), State: d.int32(), Path: d.string()}
	return w, d.err
}

// setWatches2 re-registers watches on a new connection of the same session.
type setWatches2 struct {
	RelativeZxid        int64
	Data, Exist, Child  []string
	Persistent          []string
	PersistentRecursive []string
}

func (s *setWatches2) encode(e *encoder) {
	e.requestHeader(xidSetWatches, opSetWatches2)
	e.int64(s.RelativeZxid)
	e.strings(s.Data)
	e.strings(s.Exist)
	e.strings(s.Child)
	e.strings(s.Persistent)
	e.strings(s.PersistentRecursive)
	e.finish()
}

// maxSetWatchesPaths bounds the path bytes of one setWatches2 frame, well under
// the server's default 1 MiB jute.maxbuffer.
const maxSetWatchesPaths = 128 << 10

// splitSetWatches packs the persistent watches into setWatches2 records of at
// most maxSetWatchesPaths bytes of paths each.
func splitSetWatches(relZxid int64, watches map[string]int32) []setWatches2 {
	var out []setWatches2
	cur := setWatches2{RelativeZxid: relZxid}
	size := 0
	for p, mode := range watches {
		if size > 0 && size+len(p)+4 > maxSetWatchesPaths {
			out = append(out, cur)
			cur = setWatches2{RelativeZxid: relZxid}
			size = 0
		}
		if mode == modePersistentRecursive {
			cur.PersistentRecursive = append(cur.PersistentRecursive, p)
		} else {
			cur.Persistent = append(cur.Persistent, p)
		}
		size += len(p) + 4
	}
	if size > 0 {
		out = append(out, cur)
	}
	return out
}

// Response bodies.

func decodeData(d *decoder) (Data, error) {
	v := Data{Data: d.buffer(), Stat: d.stat()}
	return v, d.err
}

func decodeStat(d *decoder) (zk.Stat, error) {
	s := d.stat()
	return s, d.err
}

func decodeChildren2(d *decoder) (Children, error) {
	v := Children{Names: d.strings(), Stat: d.stat()}
	return v, d.err
}

func decodeACL(d *decoder) (ACLs, error) {
	v := ACLs{ACL: d.acls(), Stat: d.stat()}
	return v, d.err
}

func decodePath(d *decoder) (string, error) {
	s := d.string()
	return s, d.err
}

func decodeEmpty(d *decoder) (struct{}, error) { return struct{}{}, d.err }

// multiHeader precedes each op of a multi request or response.
type multiHeader struct {
	Type int32
	Done bool
	Err  int32
}

func (e *encoder) multiHeader(h multiHeader) {
	e.int32(h.Type)
	e.bool(h.Done)
	e.int32(h.Err)
}

func (d *decoder) multiHeader() multiHeader {
	return multiHeader{Type: d.int32(), Done: d.bool(), Err: d.int32()}
}

// decodeMultiRead decodes a multiRead response. want is the number of ops asked
// for: a response with another number of results is a protocol error, since
// results are matched to ops by position.
func decodeMultiRead(d *decoder, want int) ([]ReadResult, error) {
	out := make([]ReadResult, 0, min(want, d.remaining()/9+1))
	for d.err == nil {
		h := d.multiHeader()
		if d.err != nil || h.Done {
			break
		}
		var r ReadResult
		switch h.Type {
		case opGetData:
			r.Data = d.buffer()
			r.Stat = d.stat()
		case opGetChildren:
			r.Children = d.strings()
		case opError:
			r.Err = codeError(d.int32())
			if r.Err == nil {
				// An ErrorResult with code 0 is what a server sends for an op it
				// did not run; report it rather than a silent empty result.
				r.Err = zk.ErrUnknown
			}
		default:
			d.fail("multiRead result of type %d", h.Type)
		}
		out = append(out, r)
	}
	if d.err == nil && len(out) != want {
		d.fail("multiRead returned %d results for %d ops", len(out), want)
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}
