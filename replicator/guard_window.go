package replicator

import (
	"time"

	"github.com/zkdr/zkdr/journal"
)

// deleteHoldMax bounds how long a message that deletes waits for the heartbeat
// that closes its window (a source that stopped right after deleting sends
// none).
const deleteHoldMax = 2 * time.Second

// The delete guard weighs the deletes between two heartbeats together, the
// same however the journal and the fetcher cut them into messages and
// batches: a primary transaction that deletes a subtree reaches the source as
// one notification per node, and the source publishes them as their reads
// come back, so they can span several messages. A message whose deletes no
// heartbeat follows yet is held (up to deleteHoldMax) until one does; then the
// deleting messages of the window share one batch, and one verdict.

// windowCut returns how many messages of pending may be planned now: all of
// them, or those before the first one with a delete that no heartbeat follows
// yet, while its hold has not run out. final (the fetch ended) holds nothing.
func (r *run) windowCut(pending []journal.Message, final bool) int {
	cut := openDeletes(pending)
	if cut == len(pending) || final {
		r.heldSeq = 0
		return len(pending)
	}
	if r.heldSeq != pending[cut].Seq {
		r.heldSeq, r.heldAt = pending[cut].Seq, time.Now()
	}
	if time.Since(r.heldAt) >= deleteHoldMax {
		return len(pending)
	}
	return cut
}

// holdLeft is how long the current hold may still last.
func (r *run) holdLeft() time.Duration {
	return max(0, deleteHoldMax-time.Since(r.heldAt))
}

// openDeletes returns the index of the first message with a delete after the
// last heartbeat in pending, or len(pending).
func openDeletes(pending []journal.Message) int {
	for i := len(pending) - 1; i >= 0; i-- {
		evs := pending[i].Events
		for k := len(evs) - 1; k >= 0; k-- {
			if evs[k].Kind == journal.KindHeartbeat {
				return firstDelete(pending, i, k+1)
			}
		}
	}
	return firstDelete(pending, 0, 0)
}

// firstDelete finds the first message holding a delete at or after event k of
// message i.
func firstDelete(pending []journal.Message, i, k int) int {
	for ; i < len(pending); i, k = i+1, 0 {
		for _, ev := range pending[i].Events[k:] {
			if ev.Kind == journal.KindDelete {
				return i
			}
		}
	}
	return len(pending)
}
