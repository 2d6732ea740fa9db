package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/go-zookeeper/zk"
)

// queueItem is a job as a producer serializes it into a queue item.
type queueItem struct {
	ID      string `json:"id"`
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	Created int64  `json:"created"`
	Args    string `json:"args"`
}

// itemData draws one queue item of 100–700 bytes.
func itemData(r *rand.Rand, queue string, at int64) []byte {
	return mustJSON(queueItem{ID: newUUID(r), Job: queue, Attempt: r.IntN(3), Created: at, Args: text(r, 40+r.IntN(600))})
}

// text draws n printable characters.
func text(r *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// DrainQueue deletes every item of the named queue, oldest first, as a
// consumer catching up (or an operator purging it) does, and returns how many
// it deleted.
func (w *Workload) DrainQueue(ctx context.Context, name string) (int, error) {
	if !slices.Contains(w.Queues(), name) {
		return 0, fmt.Errorf("%w: %s", ErrUnknownQueue, name)
	}
	if err := w.begin(); err != nil {
		return 0, err
	}
	w.mu.Lock()
	op := &Op{Kind: KindQueueDrain, Path: w.queuePath(name), a: args{queue: name, at: w.m.clock}}
	for i := range w.m.queues {
		if w.m.queues[i].name == name {
			op.N = w.m.queues[i].items
			w.m.queues[i].items = 0
		}
	}
	w.mu.Unlock()
	var n int
	w.executeFunc(ctx, op, func() error {
		var err error
		n, err = w.drain(ctx, op, op.Path, 0, false)
		return err
	})
	return n, op.Err
}

// execQueuePut puts one item, or a burst of N one after the other.
func (w *Workload) execQueuePut(ctx context.Context, op *Op) error {
	r := rand.New(rand.NewPCG(op.a.seed, 5))
	for range max(1, op.N) {
		if _, err := w.create(ctx, op, w.main, op.Path, itemData(r, op.a.queue, op.a.at), zk.FlagSequence); err != nil {
			return err
		}
	}
	return nil
}

// execQueueTake takes the oldest item as a consumer does: list, read the
// first, delete it. An empty queue is left as it is.
func (w *Workload) execQueueTake(ctx context.Context, op *Op) error {
	kids, err := w.children(ctx, w.main, op.Path)
	if errors.Is(err, zk.ErrNoNode) || len(kids) == 0 {
		return nil
	}
	if err != nil {
		return w.opErr(op, op.Path, err)
	}
	p := op.Path + "/" + bySequence(kids)[0]
	if _, _, err := w.get(ctx, w.main, p); err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		return w.opErr(op, p, err)
	}
	return w.remove(ctx, op, w.main, p)
}
