package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/internal/ratelog"
)

// The roots under Config.Prefix, each the top of one application's tree.
var rootNames = []string{
	"/admin", "/brokers", "/cluster", "/collections", "/config", "/controller", "/controller_epoch",
	"/isr_change_notification", "/locks", "/overseer", "/queues", "/services",
}

// Workload drives one ensemble. Its methods may be called from several
// goroutines; Run and Populate exclude each other.
type Workload struct {
	cfg  Config
	log  hclog.Logger
	warn *ratelog.Logger // the warnings a retry loop or a failing mix repeats
	open []zk.ACL

	main    *session   // the controller's, the producers' and consumers', Solr's overseer's
	brokers []*session // broker id i is brokers[i-1]
	lockers []*session
	hosts   []*session

	// Lock order: mu, then lockMu, then recMu.
	mu        sync.Mutex
	m         *model     // what the generator knows of the tree
	gen       *rand.Rand // Run's draws
	seq       int64      // last Seq drawn
	populated bool
	running   bool
	closed    bool

	kinds []Kind // the mix in draw order, with cumulative weights
	cum   []int

	lockMu     sync.Mutex
	lockPaths  map[string]string // lock node uuid -> the name the server gave it
	lockOwners map[string]int    // lock node uuid -> its client

	recMu sync.Mutex // one Record call at a time
	stats counters
}

// New validates cfg; it opens no session (Populate, Run and the named
// operations do).
func New(cfg Config) (*Workload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	log := cfg.Logger
	w := &Workload{
		cfg: cfg, log: log, warn: ratelog.Limited(log),
		open: zk.WorldACL(zk.PermAll), gen: rand.New(rand.NewPCG(cfg.Seed, 2)),
		lockPaths: map[string]string{}, lockOwners: map[string]int{},
	}
	w.stats.byKind = map[Kind]int64{}
	w.kinds, w.cum = cfg.mix()
	c := &w.cfg
	w.main = newSession("main", c, log)
	for i := range cfg.Brokers {
		w.brokers = append(w.brokers, newSession(fmt.Sprintf("broker-%d", i+1), c, log))
	}
	for i := range cfg.LockClients {
		w.lockers = append(w.lockers, newSession(fmt.Sprintf("lock-client-%d", i), c, log))
	}
	for i := range cfg.ServiceHosts {
		w.hosts = append(w.hosts, newSession(fmt.Sprintf("service-host-%d", i), c, log))
	}
	return w, nil
}

// Close closes every session, which removes the workload's ephemerals. Run
// must have returned.
func (w *Workload) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	for _, s := range w.sessions() {
		s.close()
	}
	w.warn.Flush()
	return nil
}

func (w *Workload) sessions() []*session {
	out := []*session{w.main}
	out = append(out, w.brokers...)
	out = append(out, w.lockers...)
	return append(out, w.hosts...)
}

// Roots lists the workload's roots (under the prefix), sorted.
func (w *Workload) Roots() []string {
	out := make([]string, len(rootNames))
	for i, r := range rootNames {
		out[i] = w.p(r)
	}
	return out
}

// p puts the prefix before an application path.
func (w *Workload) p(s string) string { return w.cfg.Prefix + s }

// Topics lists the topics the workload knows, in creation order.
func (w *Workload) Topics() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		return nil
	}
	var out []string
	for _, t := range w.m.topics {
		out = append(out, t.name)
	}
	return out
}

// Queues lists the queue names.
func (w *Workload) Queues() []string {
	out := make([]string, w.cfg.Queues)
	for i := range out {
		out[i] = queueName(i)
	}
	return out
}

// begin checks that a named operation may run now.
func (w *Workload) begin() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.m == nil {
		return ErrNotPopulated
	}
	return nil
}

// execute carries out op, then counts and records it.
func (w *Workload) execute(ctx context.Context, op *Op) {
	w.executeFunc(ctx, op, func() error { return w.exec(ctx, op) })
}

// executeFunc is execute with f carrying op out.
func (w *Workload) executeFunc(ctx context.Context, op *Op, f func() error) {
	start := time.Now()
	err := f()
	op.Took = time.Since(start)
	if err != nil {
		var oe *OpError
		if ctx.Err() != nil && (errors.Is(err, ctx.Err()) || retryable(err)) {
			op.Err = ctx.Err()
		} else if errors.As(err, &oe) {
			op.Err = oe
		} else {
			op.Err = &OpError{Kind: op.Kind, Path: op.Path, Err: err}
		}
	}
	w.finish(ctx, op)
}

// finish counts and records a done operation.
func (w *Workload) finish(ctx context.Context, op *Op) {
	failed := op.Err != nil && ctx.Err() == nil
	w.stats.add(op, failed)
	if failed {
		w.warn.Warn("operation failed", "kind", op.Kind, "zk-path", op.Path, "error", op.Err)
	}
	if w.cfg.Record != nil {
		w.recMu.Lock()
		w.cfg.Record(*op)
		w.recMu.Unlock()
	}
}

// exec carries out one drawn operation.
func (w *Workload) exec(ctx context.Context, op *Op) error {
	switch op.Kind {
	case KindTopicCreate:
		return w.execTopicCreate(ctx, op)
	case KindTopicDelete:
		_, err := w.execTopicDelete(ctx, op)
		return err
	case KindISRChange:
		return w.execISRChange(ctx, op)
	case KindISRDrain:
		_, err := w.drain(ctx, op, w.p("/isr_change_notification"), 0, true)
		return err
	case KindConfigChange:
		return w.execConfigChange(ctx, op)
	case KindConfigPurge:
		_, err := w.drain(ctx, op, w.p("/config/changes"), keepConfigChanges, false)
		return err
	case KindBrokerRestart:
		return w.execBrokerRestart(ctx, op)
	case KindBrokerStop:
		return w.execBrokerStop(ctx, op)
	case KindBrokerStart:
		return w.execBrokerStart(ctx, op)
	case KindLockAcquire:
		return w.execLockAcquire(ctx, op)
	case KindLockRelease:
		return w.execLockRelease(ctx, op)
	case KindLockClientRestart:
		return w.execLockClientRestart(ctx, op)
	case KindQueuePut, KindQueueBurst:
		return w.execQueuePut(ctx, op)
	case KindQueueTake:
		return w.execQueueTake(ctx, op)
	case KindQueueDrain:
		_, err := w.drain(ctx, op, op.Path, 0, false)
		return err
	case KindServiceRegister:
		return w.execServiceRegister(ctx, op)
	case KindServiceDeregister:
		return w.execServiceDeregister(ctx, op)
	case KindServiceUpdate:
		return w.execServiceUpdate(ctx, op)
	case KindServiceHostRestart:
		return w.execServiceHostRestart(ctx, op)
	case KindStateUpdate:
		return w.execStateUpdate(ctx, op)
	case KindOverseerPut:
		return w.execOverseerPut(ctx, op)
	case KindOverseerTake:
		return w.execOverseerTake(ctx, op)
	}
	return fmt.Errorf("unknown kind %q", op.Kind)
}

// lane is the goroutine an operation runs on: every operation of one
// application (of one queue) on one lane, so that each parent is written in
// the order the operations were drawn.
func lane(k Kind, a args) string {
	switch k {
	case KindTopicCreate, KindTopicDelete, KindISRChange, KindISRDrain, KindConfigChange, KindConfigPurge,
		KindBrokerRestart, KindBrokerStop, KindBrokerStart:
		return "kafka"
	case KindLockAcquire, KindLockRelease, KindLockClientRestart:
		return "locks"
	case KindQueuePut, KindQueueBurst, KindQueueTake, KindQueueDrain:
		return "queue/" + a.queue
	case KindServiceRegister, KindServiceDeregister, KindServiceUpdate, KindServiceHostRestart:
		return "services"
	}
	return "solr"
}

// lanes lists every lane Run starts, sorted.
func (w *Workload) lanes() []string {
	out := []string{"kafka", "locks", "services", "solr"}
	for _, q := range w.Queues() {
		out = append(out, "queue/"+q)
	}
	slices.Sort(out)
	return out
}
