package journal

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SnapshotInfo is one snapshot as its markers in the journal describe it.
type SnapshotInfo struct {
	ID     uint64
	Site   string
	Epoch  uint64
	Writer string
	// BeginSeq is the sequence of the snapshot-begin message; 0 when the
	// stream no longer holds it (retention dropped it).
	BeginSeq uint64
	// EndSeq is the sequence of the snapshot-end message; 0 while the snapshot
	// is under way, or when its writer stopped before the end.
	EndSeq uint64
	// BeginTime and EndTime are when the journal stored the markers.
	BeginTime time.Time
	EndTime   time.Time
	// EndZxid is the largest zxid the writer had appended when the snapshot
	// ended: the tree the snapshot rebuilds holds no change after it. 0 when
	// unknown.
	EndZxid int64
	// Nodes and Events count the snapshot-node events and all events between
	// the markers; -1 when unknown.
	Nodes  int64
	Events int64
}

// Complete reports whether both markers are held: only then can a reader
// rebuild the tree from the snapshot.
func (s SnapshotInfo) Complete() bool { return s.BeginSeq != 0 && s.EndSeq != 0 }

// ListSnapshots lists, oldest first, the snapshots whose markers stream still
// holds. It reads only the stream's snapshot subject (an ordered consumer
// filtered on it), never the journal itself, so it costs the same however
// large the journal is. It works on a site's stream and on its mirror.
// Snapshots of a stream whose writer put its markers on the journal subject
// (before EnsureStream added the snapshot subject) are not listed.
func ListSnapshots(ctx context.Context, js jetstream.JetStream, stream string) ([]SnapshotInfo, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", stream, err)
	}
	subject := snapshotSubjectOf(stream)
	if subjects := s.CachedInfo().Config.Subjects; len(subjects) > 0 && !subjectsCover(subjects, subject) {
		return nil, nil // a stream provisioned before the snapshot subject
	}
	si, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("read info of %s: %w", stream, err)
	}
	count := si.State.Subjects[subject]
	if count == 0 {
		return nil, nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer on %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	defer it.Stop()
	byID := map[uint64]*SnapshotInfo{}
	var order []*SnapshotInfo
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("read snapshot markers of %s: %w", stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return nil, fmt.Errorf("read snapshot markers of %s: %w", stream, err)
		}
		if ev, ok := markerEvent(msg.Data()); ok {
			si := byID[ev.Snapshot]
			if si == nil || (ev.Kind == KindSnapshotBegin && si.BeginSeq != 0) {
				si = &SnapshotInfo{ID: ev.Snapshot, Site: ev.Site, Epoch: ev.Epoch, Writer: msg.Headers().Get(HeaderWriter), Nodes: -1, Events: -1}
				byID[ev.Snapshot] = si
				order = append(order, si)
			}
			h := msg.Headers()
			if ev.Kind == KindSnapshotBegin {
				si.BeginSeq, si.BeginTime = md.Sequence.Stream, md.Timestamp
			} else {
				si.EndSeq, si.EndTime = md.Sequence.Stream, md.Timestamp
				si.EndZxid, _ = strconv.ParseInt(h.Get(HeaderZxid), 10, 64)
				if v, err := strconv.ParseInt(h.Get(HeaderSnapshotNodes), 10, 64); err == nil {
					si.Nodes = v
				}
				if v, err := strconv.ParseInt(h.Get(HeaderSnapshotEvents), 10, 64); err == nil {
					si.Events = v
				}
			}
		}
		if md.NumPending == 0 {
			break
		}
	}
	out := make([]SnapshotInfo, 0, len(order))
	for _, si := range order {
		out = append(out, *si)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].firstSeq() < out[j].firstSeq() })
	return out, nil
}

func (s SnapshotInfo) firstSeq() uint64 {
	if s.BeginSeq != 0 {
		return s.BeginSeq
	}
	return s.EndSeq
}

// snapshotSubjectOf is the snapshot subject of a stream named by StreamName.
func snapshotSubjectOf(stream string) string {
	return SnapshotSubjectName(strings.TrimPrefix(stream, "ZKDR_"))
}

// markerEvent decodes a marker message; ok is false for anything else. A
// marker that cannot be decoded is left out: the listing is an index, and a
// snapshot that lacks a marker is merely not offered.
func markerEvent(data []byte) (Event, bool) {
	f, err := decodeFrame(data)
	if err != nil || f.typ != frameBatch || len(f.events) != 1 {
		return Event{}, false
	}
	ev := f.events[0]
	return ev, ev.Kind == KindSnapshotBegin || ev.Kind == KindSnapshotEnd
}

// ReplayRange is the part of a journal a replay can reach: from the end of the
// oldest complete snapshot still held to the last message.
type ReplayRange struct {
	Snapshot uint64 // the oldest complete snapshot held
	FromSeq  uint64
	ToSeq    uint64
	From     time.Time
	To       time.Time
}

// DescribeSnapshots lists in's snapshots into it and fills its replayable range
// and its warnings. interval is the expected time between snapshots
// (source.snapshot_interval; 0 when snapshots are not periodic by time).
func DescribeSnapshots(ctx context.Context, js jetstream.JetStream, in *JournalInfo, interval time.Duration, now time.Time) error {
	snaps, err := ListSnapshots(ctx, js, in.Stream)
	if err != nil {
		return err
	}
	in.Snapshots = snaps
	in.Replayable = replayRange(in, snaps)
	in.Warnings = snapshotWarnings(in, snaps, interval, now)
	return nil
}

// usable reports whether a snapshot can be replayed from: both markers held
// and its begin not dropped.
func usable(s SnapshotInfo, first uint64) bool { return s.Complete() && s.BeginSeq >= first }

func replayRange(in *JournalInfo, snaps []SnapshotInfo) *ReplayRange {
	for _, s := range snaps {
		if usable(s, in.FirstSeq) {
			return &ReplayRange{Snapshot: s.ID, FromSeq: s.EndSeq, ToSeq: in.LastSeq, From: s.EndTime, To: in.LastTime}
		}
	}
	return nil
}

// snapshotWarnings says what threatens replay and resync: no complete
// snapshot, a snapshot whose begin retention dropped, a newest snapshot older
// than the schedule or the retention allows.
func snapshotWarnings(in *JournalInfo, snaps []SnapshotInfo, interval time.Duration, now time.Time) []string {
	var w []string
	if len(snaps) > 0 && snaps[0].BeginSeq == 0 {
		w = append(w, fmt.Sprintf("retention dropped the beginning of snapshot %d (the stream now starts at sequence %d): it can no longer be replayed from",
			snaps[0].ID, in.FirstSeq))
	}
	var newest *SnapshotInfo
	for i := range snaps {
		if usable(snaps[i], in.FirstSeq) {
			newest = &snaps[i]
		}
	}
	if newest == nil {
		if in.Messages > 0 {
			w = append(w, "NO complete snapshot is held: nothing can be replayed, and a standby that meets a retention gap waits for the next snapshot")
		}
		return w
	}
	age := now.Sub(newest.EndTime)
	if interval > 0 && age > 2*interval {
		w = append(w, fmt.Sprintf("the newest complete snapshot (%d) ended %s ago, more than twice the snapshot interval %s: is the source taking snapshots?",
			newest.ID, age.Round(time.Second), interval))
	}
	if in.MaxAge > 0 && age > in.MaxAge/2 {
		w = append(w, fmt.Sprintf("the newest complete snapshot (%d) ended %s ago, more than half the stream's max-age %s: retention may soon leave no complete snapshot",
			newest.ID, age.Round(time.Second), in.MaxAge))
	}
	return w
}
