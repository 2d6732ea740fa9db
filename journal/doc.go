// Package journal owns zkdr's replication journal: the event codec, the
// provisioning of a site's stream (ZKDR_<site>, subjects zkdr.<site>.journal
// and zkdr.<site>.snapshot) and of its mirror in the peer domain, the fenced
// appender the source publishes through, the ordered reader the applier and
// the CLI read with, the retention-gap checks, the snapshot index
// (ListSnapshots) and replay points (ParsePoint, ChooseSnapshot, Point.Cut).
//
// # Wire format (schema version 1)
//
// One NATS message carries a frame:
//
//	message = version:u8 frame-type:u8 frame-body crc32c:u32(big-endian)
//
// The checksum (CRC-32C, Castagnoli) covers every byte before it. A version
// other than SchemaVersion is ErrUnknownVersion (the message is never guessed
// at); a bad checksum, a truncation, an unknown frame type, unknown kinds,
// modes or flags, out-of-range numbers or trailing bytes are ErrCorrupt.
// The reader returns both as *DecodeError with the stream and sequence.
//
//	frame-type 1, batch: count:uvarint { length:uvarint event }*count   (count >= 1)
//	frame-type 2, chunk: part:uvarint parts:uvarint total:uvarint piece
//
// A batch holds consecutive events. An event whose encoding does not fit the
// server's max payload (read from the connection, less room for headers) is
// cut into `parts` consecutive messages, part 0 first, whose pieces
// concatenate to the `total` bytes of one event encoding. The reader hands the
// event out once, as a Message spanning FirstSeq..Seq.
//
//	event = kind:u8 mode:u8 flags:u8 (bit 0: sequential)
//	        epoch:uvarint site:str path:str data:optbytes
//	        acl-count:uvarint { perms:varint scheme:str id:str }*acl-count
//	        ttl:varint czxid:varint mzxid:varint pzxid:varint ctime:varint mtime:varint
//	        version:varint cversion:varint aversion:varint
//	        zxid:varint time:varint snapshot:uvarint
//	str      = length:uvarint bytes
//	optbytes = (length+1):uvarint bytes, or 0 for nil data (ZooKeeper keeps null
//	           and empty data apart)
//
// varint is encoding/binary's zig-zag signed varint, uvarint its unsigned one.
// Numeric values of kinds and modes are fixed in event.go. A field added later
// means a new schema version.
//
// Headers on every message: Zkdr-Version, Zkdr-Site, Zkdr-Epoch, Zkdr-Writer,
// Zkdr-Events (events in the message), Zkdr-Chunk ("part/parts", chunks only),
// and JetStream's Nats-Msg-Id, Nats-Expected-Stream,
// Nats-Expected-Last-Sequence and Nats-Expected-Last-Msg-Id.
//
// # Snapshot markers
//
// A snapshot-begin or snapshot-end event is always alone in its message (a
// batch of one), published on the stream's second subject
// zkdr.<site>.snapshot, with headers Zkdr-Snapshot (id), Zkdr-Kind
// ("snapshot-begin" or "snapshot-end") and Zkdr-Zxid (the largest zxid, mzxid
// or pzxid of any event the writer appended before it); a snapshot-end whose
// begin the same writer appended also carries Zkdr-Snapshot-Nodes and
// Zkdr-Snapshot-Events (counts between the markers). The markers take their
// place in the one sequence like any message (same fencing, same order, read
// by every reader, copied by the mirror, which takes all subjects), so
// nothing about reading the journal changes; the subject only lets
// ListSnapshots read the markers alone, with a filtered ordered consumer, at a
// cost that does not grow with the journal. Snapshots are what make bounded
// retention safe: a replay or a standby's resync starts from the newest
// complete snapshot still held.
//
// # Streams
//
// File storage, limits retention, discard old. EnsureStream adds the snapshot
// subject to a stream provisioned before it existed (nothing else is ever
// changed); until then an appender puts its markers on the journal subject. Deletes and purges are denied on
// the stream and its mirror: a contiguous sequence is the evidence that no
// append was lost, and a hole punched by hand would be indistinguishable from
// one; retention works by MaxAge/MaxBytes/MaxMsgs only. EnsureStream and
// EnsureMirror create what is missing and report, never change, a stream whose
// settings differ (ErrStreamConfig, naming each setting). The mirror has the
// origin's name and sequence numbers, so a checkpoint means the same on both
// sides.
//
// # Appender
//
// Events are grouped into a message up to MaxBatchBytes or Linger, and up to
// MaxPending messages are published asynchronously at once. Each message's
// target sequence is fixed when it is cut, and it carries both the expected
// last sequence and the expected last message id (its predecessor's): a
// message lands only directly after its own predecessor, so one failed append
// fails every later one and nothing is reordered, skipped or interleaved with
// another writer. Nats-Msg-Id is site.epoch.sequence.hash(kind, zxid, time,
// snapshot, path of the events), so a re-sent message is recognised while the
// same state legitimately published again later is not mistaken for it.
//
// On any failure (error, disconnect, an ack overdue by AckTimeout) the appender
// re-reads the stream's tail with backoff until the server answers, confirms
// the in-doubt messages that landed (same writer and message id, in order) and
// re-sends the rest from there. A message of another writer after its last ack
// stops it with ErrFenced; one of a newer epoch, at Open or later, with
// ErrStaleEpoch. Both are sticky and logged once.
//
// AppendRead takes the time the event's state was read as well; the appender
// keeps, in a Histogram (latency.go: fixed buckets from 1 ms to 60 s, atomic
// counters), how long each message took from the earliest read among its
// events to its acknowledgement (ReadAppended).
//
// # Reader
//
// The reader uses a JetStream ordered consumer started at the wanted sequence
// (DeliverByStartSequence) rather than a durable consumer: the applier's
// checkpoint lives in ZooKeeper in the same Multi as the changes, so consumer
// state on the server would be a second, possibly disagreeing, record of the
// position. An ordered consumer is ephemeral, keeps no ack state, and is
// recreated by the client at the next sequence after server restarts or
// consumer loss, so a Reader is correct when created at any sequence. Since
// the stream forbids deletes, its sequence is contiguous except where
// retention dropped its head: a start sequence below the first held one, or a
// delivered sequence that jumps, is ErrRetentionGap, never a silent skip. A
// chunked event whose writer died mid-event is dropped with a warning when the
// next message comes from a different writer; from the same writer it is
// ErrCorrupt.
//
// Each Message carries Published, JetStream's store timestamp (a mirror keeps
// the origin's, so on the standby it is the active site's store time), and
// Delivered, when the reader took it from the consumer.
package journal
