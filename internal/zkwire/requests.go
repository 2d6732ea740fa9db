package zkwire

import (
	"github.com/go-zookeeper/zk"
)

// Data is a getData result.
type Data struct {
	Data []byte
	Stat zk.Stat
}

// Children is a getChildren2 result.
type Children struct {
	Names []string
	Stat  zk.Stat
}

// ACLs is a getACL result.
type ACLs struct {
	ACL  []zk.ACL
	Stat zk.Stat
}

// ReadOp is one read of a MultiRead: getData (opcode 4) when Children is false,
// getChildren (opcode 8, names only, no stat) when it is true.
type ReadOp struct {
	Path     string
	Children bool
}

// ReadResult is one op's result in a MultiRead. Err is that op's own error
// (zk.ErrNoNode, zk.ErrNoAuth...); Data and Stat are set for getData, Children
// for getChildren.
type ReadResult struct {
	Data     []byte
	Stat     zk.Stat
	Children []string
	Err      error
}

// GetData reads a node's data and stat (opcode 4, no watch).
func (c *Conn) GetData(path string) *Call[Data] {
	call := newCall(request{opcode: opGetData, path: path}, decGetData)
	c.enqueue(call)
	return call
}

// Exists reads a node's stat (opcode 3, no watch); a missing node fails the call
// with zk.ErrNoNode.
func (c *Conn) Exists(path string) *Call[zk.Stat] {
	call := newCall(request{opcode: opExists, path: path}, decStat)
	c.enqueue(call)
	return call
}

// Children reads a node's child names and stat (getChildren2, opcode 12, no watch).
func (c *Conn) Children(path string) *Call[Children] {
	call := newCall(request{opcode: opGetChildren2, path: path}, decChildren2)
	c.enqueue(call)
	return call
}

// GetACL reads a node's ACL and stat (opcode 6).
func (c *Conn) GetACL(path string) *Call[ACLs] {
	call := newCall(request{opcode: opGetACL, path: path}, decACL)
	c.enqueue(call)
	return call
}

// MultiRead runs reads as one request (opcode 22, ZooKeeper 3.6+). The server
// reads them all at one point of its history, and one op's failure does not fail
// the others: each ReadResult carries its own Err, in the order of ops. Watch
// flags are ignored by the server for multiRead, so none are set.
func (c *Conn) MultiRead(ops []ReadOp) *Call[[]ReadResult] {
	call := newCall(request{opcode: opMultiRead, ops: ops}, decMultiRead)
	c.enqueue(call)
	return call
}

// AddWatch sets a persistent watch on path (opcode 106, ZooKeeper 3.6+):
// recursive makes it PERSISTENT_RECURSIVE (mode 1, events for path and every
// descendant, no NodeChildrenChanged), otherwise PERSISTENT (mode 0). Once it
// succeeds the watch is remembered and registered again (setWatches2) on every
// reconnect of the same session; an expired session forgets it.
func (c *Conn) AddWatch(path string, recursive bool) *Call[struct{}] {
	mode := int32(modePersistent)
	if recursive {
		mode = modePersistentRecursive
	}
	call := newCall(request{opcode: opAddWatch, path: path, mode: mode}, decEmpty)
	c.enqueue(call)
	return call
}

// SetData writes a node's data if its version matches (-1 matches any) (opcode 5).
func (c *Conn) SetData(path string, data []byte, version int32) *Call[zk.Stat] {
	call := newCall(request{opcode: opSetData, path: path, data: data, version: version}, decStat)
	c.enqueue(call)
	return call
}

// Create makes a node (opcode 1); flags are zk.FlagEphemeral, zk.FlagSequence...
// The result is the created path (with the sequence suffix, if any).
func (c *Conn) Create(path string, data []byte, flags int32, acl []zk.ACL) *Call[string] {
	call := newCall(request{opcode: opCreate, path: path, data: data, flags: flags, acl: acl}, decPath)
	c.enqueue(call)
	return call
}

// Sync asks the server to catch up with the leader before it answers the
// requests after it (opcode 9). The result is the path.
func (c *Conn) Sync(path string) *Call[string] {
	call := newCall(request{opcode: opSync, path: path}, decPath)
	c.enqueue(call)
	return call
}

// encodeRequest writes r as one frame.
func encodeRequest(e *encoder, r *request) []byte {
	e.requestHeader(r.xid, r.opcode)
	switch r.opcode {
	case opGetData, opExists, opGetChildren2:
		e.string(r.path)
		e.bool(false)
	case opGetACL, opSync:
		e.string(r.path)
	case opSetData:
		e.string(r.path)
		e.buffer(r.data)
		e.int32(r.version)
	case opCreate:
		e.string(r.path)
		e.buffer(r.data)
		e.acls(r.acl)
		e.int32(r.flags)
	case opAddWatch:
		e.string(r.path)
		e.int32(r.mode)
	case opMultiRead:
		for _, op := range r.ops {
			typ := int32(opGetData)
			if op.Children {
				typ = opGetChildren
			}
			e.multiHeader(multiHeader{Type: typ, Done: false, Err: -1})
			e.string(op.Path)
			e.bool(false)
		}
		e.multiHeader(multiHeader{Type: -1, Done: true, Err: -1})
	case opClose, opPing:
		// header only
	}
	return e.finish()
}
