package journal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"
)

// JournalInfo is what `zkdr journal info` shows about a journal stream.
type JournalInfo struct {
	Stream    string
	FirstSeq  uint64
	LastSeq   uint64
	FirstTime time.Time
	LastTime  time.Time
	Messages  uint64
	Bytes     uint64
	Replicas  int
	MaxAge    time.Duration
	MaxBytes  int64
	MaxMsgs   int64
	// Mirror is set when the stream is a mirror of another domain's journal.
	Mirror *MirrorInfo
	// NewestEpoch, Writer and Site come from the headers of the last message.
	NewestEpoch uint64
	Writer      string
	Site        string
	// Snapshots, Replayable and Warnings are filled by DescribeSnapshots:
	// the snapshots held (oldest first), the range a replay can reach (nil
	// when no complete snapshot is held), and what threatens replay.
	Snapshots  []SnapshotInfo `json:",omitempty"`
	Replayable *ReplayRange   `json:",omitempty"`
	Warnings   []string       `json:",omitempty"`
}

// MirrorInfo is the replication state of a mirror stream.
type MirrorInfo struct {
	Origin    string        // origin stream name
	APIPrefix string        // origin domain's JetStream API prefix
	Lag       uint64        // messages the mirror is behind the origin
	Active    time.Duration // since the mirror last heard from the origin
	Error     string        // the server's error for the mirror, if any
}

// Info reads a journal stream's bounds, limits, mirror state and the writer of
// its last message.
func Info(ctx context.Context, js jetstream.JetStream, stream string) (*JournalInfo, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", stream, err)
	}
	si, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read info of %s: %w", stream, err)
	}
	st, c := si.State, si.Config
	info := &JournalInfo{
		Stream: stream, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, FirstTime: st.FirstTime, LastTime: st.LastTime,
		Messages: st.Msgs, Bytes: st.Bytes, Replicas: c.Replicas, MaxAge: c.MaxAge, MaxBytes: c.MaxBytes, MaxMsgs: c.MaxMsgs,
	}
	if m := si.Mirror; m != nil {
		info.Mirror = &MirrorInfo{Origin: m.Name, Lag: m.Lag, Active: m.Active}
		if m.External != nil {
			info.Mirror.APIPrefix = m.External.APIPrefix
		}
		if m.Error != nil {
			info.Mirror.Error = m.Error.Error()
		}
	}
	if st.Msgs > 0 {
		raw, err := s.GetMsg(ctx, st.LastSeq)
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("read message %d of %s: %w", st.LastSeq, stream, err)
		}
		if raw != nil {
			info.Writer = raw.Header.Get(HeaderWriter)
			info.Site = raw.Header.Get(HeaderSite)
			info.NewestEpoch, _ = strconv.ParseUint(raw.Header.Get(HeaderEpoch), 10, 64)
		}
	}
	return info, nil
}

// Inspect returns a Reader over stream from sequence seq, or, when seq is 0,
// from the first message stored at or after since (zero: from the start).
// Unlike an applier's reader it is meant to be closed after a look.
func Inspect(js jetstream.JetStream, stream string, seq uint64, since time.Time, logger hclog.Logger) (*Reader, error) {
	return NewReader(js, ReaderConfig{Stream: stream, StartSeq: seq, StartTime: since, Logger: logger})
}

// Format renders one event of the message at stream sequence seq as a single
// readable line: sequence, kind, path, zxid in hex, epoch, data size, and the
// fields that matter for its kind.
func Format(seq uint64, ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seq=%d kind=%s", seq, ev.Kind)
	if ev.Path != "" {
		fmt.Fprintf(&b, " path=%q", ev.Path)
	}
	fmt.Fprintf(&b, " zxid=%#x epoch=%d", ev.Zxid, ev.Epoch)
	switch ev.Kind {
	case KindCreate, KindUpdate, KindSnapshotNode:
		fmt.Fprintf(&b, " data=%dB version=%d mode=%s", len(ev.Data), ev.Stat.Version, ev.Mode)
		if ev.Mode == ModeTTL {
			fmt.Fprintf(&b, " ttl=%dms", ev.TTL)
		}
		if ev.Sequential {
			b.WriteString(" sequential")
		}
	case KindACL:
		fmt.Fprintf(&b, " acls=%d aversion=%d", len(ev.ACL), ev.Stat.Aversion)
	}
	if ev.Kind == KindSnapshotBegin || ev.Kind == KindSnapshotNode || ev.Kind == KindSnapshotEnd {
		fmt.Fprintf(&b, " snapshot=%d", ev.Snapshot)
	}
	if ev.Time != 0 {
		fmt.Fprintf(&b, " time=%s", time.Unix(0, ev.Time).UTC().Format(time.RFC3339Nano))
	}
	if ev.Site != "" {
		fmt.Fprintf(&b, " site=%s", ev.Site)
	}
	return b.String()
}
