package journal

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PointKind says how a replay's target point is given.
type PointKind uint8

// Kinds of points.
const (
	PointLatest PointKind = iota // the last message the stream holds when the replay starts
	PointTime                    // the last message the journal stored at or before Time
	PointZxid                    // no change after primary zxid Zxid
	PointSeq                     // up to and including stream sequence Seq
)

// Point is where a replay stops. Time points follow the journal's clock (when
// JetStream stored each message), zxid points the primary's zxids, sequence
// points the stream.
type Point struct {
	Kind PointKind
	Time time.Time
	Zxid int64
	Seq  uint64
}

// ParsePoint reads a point as `zkdr replay --until` takes it: empty (latest),
// an RFC 3339 time, "zxid:0x…" (or decimal) or "seq:N".
func ParsePoint(s string) (Point, error) {
	switch {
	case s == "" || s == "latest":
		return Point{Kind: PointLatest}, nil
	case strings.HasPrefix(s, "zxid:"):
		z, err := strconv.ParseInt(strings.TrimPrefix(s, "zxid:"), 0, 64)
		if err != nil || z <= 0 {
			return Point{}, fmt.Errorf("journal: point %q: want zxid:0x<hex> with a positive zxid", s)
		}
		return Point{Kind: PointZxid, Zxid: z}, nil
	case strings.HasPrefix(s, "seq:"):
		n, err := strconv.ParseUint(strings.TrimPrefix(s, "seq:"), 10, 64)
		if err != nil || n == 0 {
			return Point{}, fmt.Errorf("journal: point %q: want seq:N with N a stream sequence (at least 1)", s)
		}
		return Point{Kind: PointSeq, Seq: n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Point{}, fmt.Errorf("journal: point %q: want an RFC 3339 time (2024-05-01T14:03:00Z), zxid:0x<hex> or seq:N", s)
	}
	return Point{Kind: PointTime, Time: t}, nil
}

func (p Point) String() string {
	switch p.Kind {
	case PointTime:
		return p.Time.UTC().Format(time.RFC3339Nano)
	case PointZxid:
		return fmt.Sprintf("zxid:%#x", p.Zxid)
	case PointSeq:
		return fmt.Sprintf("seq:%d", p.Seq)
	}
	return "latest"
}

// endsBy reports whether snapshot s ended at or before p.
func (p Point) endsBy(s SnapshotInfo) bool {
	switch p.Kind {
	case PointTime:
		return !s.EndTime.After(p.Time)
	case PointZxid:
		return s.EndZxid != 0 && s.EndZxid <= p.Zxid
	case PointSeq:
		return s.EndSeq <= p.Seq
	}
	return true
}

// ChooseSnapshot returns the newest snapshot a replay to p starts from: complete,
// its begin still held (first is the stream's first sequence), and ended at or
// before p. It fails with an error wrapping ErrNoSnapshot that says what the
// stream offers instead.
func ChooseSnapshot(snaps []SnapshotInfo, first uint64, p Point) (SnapshotInfo, error) {
	var oldest *SnapshotInfo
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		if !usable(s, first) {
			continue
		}
		if p.endsBy(s) {
			return s, nil
		}
		oldest = &snaps[i]
	}
	if oldest == nil {
		return SnapshotInfo{}, fmt.Errorf("%w is held by the stream (its first sequence is %d)", ErrNoSnapshot, first)
	}
	return SnapshotInfo{}, fmt.Errorf("%w ends at or before %s: the oldest one held, %d, ends at seq:%d (%s, zxid:%#x)",
		ErrNoSnapshot, p, oldest.ID, oldest.EndSeq, oldest.EndTime.UTC().Format(time.RFC3339Nano), oldest.EndZxid)
}

// Cut says how much of message m, read after the replay's snapshot has
// ended, is at or before p: its first keep events belong to the replay, and
// past is true when m holds something after p (the replay ends with it). A
// time point cuts between messages (one stored time per message); a zxid point
// cuts at the first event that carries a state newer than the point (zxid or
// mzxid above it), so a change read together with a later one may be left out,
// but nothing after the point is ever kept; a sequence point cuts after that
// sequence (a chunked event that ends after it is left out).
func (p Point) Cut(m Message) (keep int, past bool) {
	switch p.Kind {
	case PointTime:
		if m.Published.After(p.Time) {
			return 0, true
		}
	case PointSeq:
		if m.Seq > p.Seq {
			return 0, true
		}
	case PointZxid:
		for i := range m.Events {
			ev := &m.Events[i]
			if max(ev.Zxid, ev.Stat.Mzxid) > p.Zxid {
				return i, true
			}
		}
	}
	return len(m.Events), false
}
