package applier

import (
	"time"
)

// The delete guard's rule, a function of the primary's history alone.
//
// The guard weighs the replicated nodes whose names are not sequence-shaped
// (see sequenceShaped): queue items, lock and election nodes come and go by the
// thousand in ordinary operation and are not what a wipe destroys. Call that
// number the tree's weighed size. Primary time comes from the heartbeats in
// the journal: each one samples the weighed size into a window of
// DeleteGuardWindow of primary time. The deletes between two heartbeats form
// one group (a primary transaction's deletes always do: the heartbeat that
// follows them carries a later zxid). When a group closes, the guard compares
// the tree with the largest size it had in the window:
//
//	shrink = peak - size          trips when shrink > DeleteGuardMinNodes
//	                                     and shrink > DeleteGuardShare * peak
//
// A group that trips is held whole, before any of its deletes is applied, until
// an operator releases it (which lets deletes through for one window): the
// applier waits for the heartbeat that closes a deleting group (see
// guard_window.go) and judges it in a dry run first. The window is part of the
// checkpoint and changes only with the events applied, so a restart, a backlog
// or another batching judge every group exactly as an uninterrupted run does.
// Nodes created in the window raise its peak, so a tree that grew and is then
// wiped trips too, and nodes created and deleted again (churn) leave no shrink.

// guardSlices is how many samples of the peak a window keeps.
const guardSlices = 8

// GuardWindow is the delete guard's memory of recent primary history, kept in
// the checkpoint.
type GuardWindow struct {
	// Now is the primary time (unix nanoseconds) of the last heartbeat applied.
	Now int64 `json:"now"`
	// Buckets are the largest weighed sizes the tree had at heartbeats, per
	// slice of the window, oldest first.
	Buckets []GuardBucket `json:"buckets,omitempty"`
	// Group is the group of deletes since the last heartbeat, if any.
	Group *GuardGroup `json:"group,omitempty"`
	// ReleasedUntil is set when an operator let held deletes through: nothing
	// trips until a heartbeat of this primary time or later, which starts a
	// new window from the tree as it then is. A release thus lets the rest of
	// a confirmed mass delete through too, for one window.
	ReleasedUntil int64 `json:"released_until,omitempty"`
}

// GuardGroup is the group of deletes since the last heartbeat.
type GuardGroup struct {
	// FirstSeq is the message with the group's first delete.
	FirstSeq uint64 `json:"first_seq"`
	// Before is the weighed size then; Deletes the weighed nodes deleted since.
	Before  int      `json:"before"`
	Deletes int      `json:"deletes"`
	Sample  []string `json:"sample,omitempty"`
}

// guardSample bounds the deleted paths a group keeps to show.
const guardSample = 10

// GuardBucket is one slice of the window: from Start (primary time) on, the
// tree's weighed size was at most Peak at every heartbeat.
type GuardBucket struct {
	Start int64 `json:"start"`
	Peak  int   `json:"peak"`
}

func (w *GuardWindow) clone() *GuardWindow {
	if w == nil {
		return nil
	}
	out := *w
	out.Buckets = append([]GuardBucket(nil), w.Buckets...)
	if w.Group != nil {
		g := *w.Group
		g.Sample = append([]string(nil), g.Sample...)
		out.Group = &g
	}
	return &out
}

// observe samples size at a heartbeat written at primary time now.
func (w *GuardWindow) observe(now int64, size int, window time.Duration) {
	now = max(now, w.Now) // a primary clock stepping back does not reopen old slices
	w.Now = now
	if w.ReleasedUntil != 0 && now >= w.ReleasedUntil {
		w.ReleasedUntil = 0
		w.Buckets = append(w.Buckets[:0], GuardBucket{Start: now, Peak: size})
		return
	}
	slice := int64(window) / guardSlices
	if n := len(w.Buckets); n == 0 || now >= w.Buckets[n-1].Start+slice {
		w.Buckets = append(w.Buckets, GuardBucket{Start: now, Peak: size})
	} else {
		w.Buckets[n-1].Peak = max(w.Buckets[n-1].Peak, size)
	}
	// The oldest slice ends where the next begins; once that is a window ago,
	// the oldest is out.
	for len(w.Buckets) > 1 && w.Buckets[1].Start <= now-int64(window) {
		w.Buckets = w.Buckets[1:]
	}
}

// release lets deletes through until a window after the last heartbeat.
func (w *GuardWindow) release(window time.Duration) {
	w.ReleasedUntil = max(w.Now, 1) + int64(window)
}

// seed gives a window that has seen no heartbeat its first sample, the size
// before the first deletes it weighs. Otherwise only heartbeats sample: a
// group's verdict then depends on the heartbeats before it and on the tree it
// leaves, never on where a restart cut it.
func (w *GuardWindow) seed(size int) {
	if len(w.Buckets) == 0 {
		w.Buckets = append(w.Buckets, GuardBucket{Start: w.Now, Peak: size})
	}
}

func (w *GuardWindow) peak(size int) int {
	p := size
	for _, b := range w.Buckets {
		p = max(p, b.Peak)
	}
	return p
}

// guardRule is the delete guard's configuration.
type guardRule struct {
	share    float64
	minNodes int
	window   time.Duration
}

// guardVerdict is the guard's judgement of one group of deletes.
type guardVerdict struct {
	trips  bool
	group  GuardGroup
	shrink int // peak - size once the group is applied
	peak   int
}

// judge weighs w's open group, which left the tree at size.
func (g guardRule) judge(w *GuardWindow, size int) guardVerdict {
	v := guardVerdict{group: *w.Group, peak: w.peak(size)}
	v.shrink = v.peak - size
	v.trips = w.ReleasedUntil == 0 && v.shrink > g.minNodes && float64(v.shrink) > g.share*float64(v.peak)
	return v
}

// sequenceShaped reports whether a node name ends with the ten-digit counter a
// sequential create appends.
func sequenceShaped(name string) bool {
	if len(name) < 10 {
		return false
	}
	for i := len(name) - 10; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return true
}
