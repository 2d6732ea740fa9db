package journal

import "github.com/go-zookeeper/zk"

// SchemaVersion is the version of the event wire format written by this build.
// A message of any other version is refused with ErrUnknownVersion.
const SchemaVersion = 1

// Kind says what an event asserts.
type Kind uint8

// Event kinds. The numeric values are part of the wire format: never renumber.
const (
	KindCreate        Kind = 1 // path exists with this state (newly created on the primary)
	KindUpdate        Kind = 2 // path exists with this data/state
	KindDelete        Kind = 3 // path and its whole subtree are gone
	KindACL           Kind = 4 // path has this ACL
	KindHeartbeat     Kind = 5 // watermark: every change with zxid <= Zxid was published before
	KindSnapshotBegin Kind = 6 // a fuzzy snapshot of the tree in scope starts
	KindSnapshotNode  Kind = 7 // one node of the snapshot, with its full state
	KindSnapshotEnd   Kind = 8 // the snapshot is complete: nodes not mentioned since begin are gone
)

var kindNames = [...]string{"", "create", "update", "delete", "acl", "heartbeat", "snapshot-begin", "snapshot-node", "snapshot-end"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "unknown"
}

// Mode is how the node was created on the primary.
type Mode uint8

// Node modes. The numeric values are part of the wire format.
const (
	ModePersistent Mode = 0
	ModeContainer  Mode = 1
	ModeTTL        Mode = 2 // Event.TTL holds the ttl in milliseconds
	ModeEphemeral  Mode = 3 // only replicated when the ephemeral policy says so
)

var modeNames = [...]string{"persistent", "container", "ttl", "ephemeral"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "unknown"
}

// Stat is the primary's stat of a node when the event was read.
type Stat struct {
	Czxid    int64
	Mzxid    int64
	Pzxid    int64
	Ctime    int64 // milliseconds since the epoch, as ZooKeeper keeps it
	Mtime    int64
	Version  int32
	Cversion int32
	Aversion int32
}

// Event is a state assertion about one path as of primary zxid Zxid. Applying it
// twice, or to a standby that already has that state, changes nothing.
type Event struct {
	Site       string
	Epoch      uint64
	Kind       Kind
	Path       string
	Data       []byte
	ACL        []zk.ACL
	Mode       Mode
	Sequential bool  // the name was issued by a sequential create on the primary
	TTL        int64 // milliseconds, for ModeTTL
	Stat       Stat
	// Zxid is the zxid this event stands for: mzxid for data, czxid for a create,
	// the parent's pzxid for a delete, the heartbeat node's mzxid for a heartbeat.
	Zxid int64
	// Time is unix nanoseconds: for a heartbeat, when the primary's heartbeat was
	// written; for snapshot markers, when the snapshot started or ended.
	Time int64
	// Snapshot identifies the snapshot a snapshot-* event belongs to.
	Snapshot uint64
}
