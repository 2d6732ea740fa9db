package workload

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// model is what the generator knows of the tree: enough to draw operations
// that make sense (release a lock that is held, take from a queue that has
// items) without asking the server, so that the sequence depends on the seed
// alone.
type model struct {
	clock int64 // logical time, Unix ms; every draw moves it on

	topics       []topicModel
	nextTopic    int
	topicsTarget int // Populate's count, which creations and deletions stay around
	brokers      []brokerModel
	controller   int // broker id, 0 for none
	epoch        int // controller epoch
	isrPending   int
	configs      int // config_change_ notifications

	locks         []string
	holders       []holder
	holdersTarget int

	queues      []queueModel
	itemsTarget int // per queue

	services        []serviceModel
	instancesTarget int

	collections    []collectionModel
	overseer       int
	overseerTarget int
}

type topicModel struct {
	name       string
	partitions int
	start      int // the assignment's first broker index
}

type brokerModel struct {
	id   int
	live bool
}

type holder struct {
	client, lock int
	uuid         string
}

type queueModel struct {
	name  string
	items int
}

type serviceModel struct {
	name      string
	instances []instanceModel
}

type instanceModel struct {
	id         string
	host       int
	registered bool
}

type collectionModel struct {
	name   string
	layout solrLayout
}

// keepConfigChanges is how many config_change_ notifications a purge keeps
// (Kafka deletes them after 15 minutes).
const keepConfigChanges = 10

// startClock is the logical time of Populate: 2023-11-14 22:13:20 UTC.
const startClock = 1_700_000_000_000

// replicas is partition p's assignment: rf brokers from the topic's start,
// shifted by p.
func (t topicModel) replicas(p, brokers, rf int) []int {
	out := make([]int, rf)
	for j := range out {
		out[j] = (t.start+p+j)%brokers + 1
	}
	return out
}

// draw picks the next operation of Run's sequence. w.mu is held.
func (w *Workload) draw() *Op {
	w.seq++
	w.m.clock += 10
	op := &Op{Seq: w.seq}
	kinds, cum := w.kinds, w.cum
	r := w.gen
	for range 8 {
		x := r.IntN(cum[len(cum)-1])
		k := kinds[sortSearch(cum, x)]
		if w.drawKind(r, k, op) {
			return op
		}
	}
	// Nothing drawn fits the tree as it is: a producer's put always does.
	if !w.drawKind(r, KindQueuePut, op) {
		w.drawQueueItem(r, op, KindQueuePut, r.IntN(len(w.m.queues)), 1)
	}
	return op
}

// sortSearch is the first index whose cumulative weight exceeds x.
func sortSearch(cum []int, x int) int {
	i, _ := slices.BinarySearch(cum, x+1)
	return i
}

// drawKind fills op as an operation of kind k, or says it does not fit now.
func (w *Workload) drawKind(r *rand.Rand, k Kind, op *Op) bool {
	m := w.m
	op.Kind = k
	op.a = args{seed: r.Uint64(), at: m.clock}
	a := &op.a
	switch k {
	case KindTopicCreate:
		if len(m.topics) >= 2*m.topicsTarget+2 {
			return false
		}
		t := topicModel{name: fmt.Sprintf("topic-%04d", m.nextTopic), partitions: pickPartitions(r, 100), start: r.IntN(w.cfg.Brokers)}
		m.nextTopic++
		m.topics = append(m.topics, t)
		w.topicArgs(op, t)
	case KindTopicDelete:
		if len(m.topics) <= max(1, m.topicsTarget/2) {
			return false
		}
		i := r.IntN(len(m.topics))
		t := m.topics[i]
		m.topics = slices.Delete(m.topics, i, i+1)
		w.topicArgs(op, t)
	case KindISRChange:
		if len(m.topics) == 0 {
			return false
		}
		t := m.topics[r.IntN(len(m.topics))]
		a.topic, a.partition = t.name, r.IntN(t.partitions)
		a.replicas = t.replicas(a.partition, w.cfg.Brokers, w.cfg.ReplicationFactor)
		a.shrink, a.elect, a.epoch = r.IntN(2) == 0, r.IntN(8) == 0, m.epoch
		op.Path = w.statePath(t.name, a.partition)
		m.isrPending++
	case KindISRDrain:
		if m.isrPending == 0 {
			return false
		}
		op.Path, op.N = w.p("/isr_change_notification"), m.isrPending
		m.isrPending = 0
	case KindConfigChange:
		if len(m.topics) == 0 {
			return false
		}
		a.topic = m.topics[r.IntN(len(m.topics))].name
		op.Path = w.p("/config/topics/" + a.topic)
		m.configs++
	case KindConfigPurge:
		if m.configs <= keepConfigChanges {
			return false
		}
		op.Path, op.N = w.p("/config/changes"), m.configs-keepConfigChanges
		m.configs = keepConfigChanges
	case KindBrokerRestart:
		var live []int
		for _, b := range m.brokers {
			if b.live {
				live = append(live, b.id)
			}
		}
		if len(live) == 0 {
			return false
		}
		b := live[r.IntN(len(live))]
		w.brokerArgs(op, b, true)
	case KindLockAcquire:
		if len(m.holders) >= 2*m.holdersTarget+4 {
			return false
		}
		h := holder{client: r.IntN(w.cfg.LockClients), lock: r.IntN(len(m.locks)), uuid: newUUID(r)}
		m.holders = append(m.holders, h)
		w.lockArgs(op, h)
	case KindLockRelease:
		if len(m.holders) == 0 {
			return false
		}
		i := r.IntN(len(m.holders))
		h := m.holders[i]
		m.holders = slices.Delete(m.holders, i, i+1)
		w.lockArgs(op, h)
	case KindLockClientRestart:
		c := r.IntN(w.cfg.LockClients)
		m.holders = slices.DeleteFunc(m.holders, func(h holder) bool { return h.client == c })
		a.client, op.N, op.Path = c, c, w.p("/locks")
	case KindQueuePut, KindQueueBurst:
		q := r.IntN(len(m.queues))
		if m.queues[q].items >= 3*m.itemsTarget+50 {
			return false
		}
		n := 1
		if k == KindQueueBurst {
			n = 10 + r.IntN(191)
		}
		w.drawQueueItem(r, op, k, q, n)
	case KindQueueTake:
		q := r.IntN(len(m.queues))
		if m.queues[q].items == 0 {
			return false
		}
		m.queues[q].items--
		a.queue, op.Path = m.queues[q].name, w.queuePath(m.queues[q].name)
	case KindQueueDrain:
		q := r.IntN(len(m.queues))
		if m.queues[q].items == 0 {
			return false
		}
		a.queue, op.Path, op.N = m.queues[q].name, w.queuePath(m.queues[q].name), m.queues[q].items
		m.queues[q].items = 0
	case KindServiceRegister:
		s := r.IntN(len(m.services))
		svc := &m.services[s]
		var free []int
		for i, in := range svc.instances {
			if !in.registered {
				free = append(free, i)
			}
		}
		var in *instanceModel
		switch {
		case len(free) > 0:
			in = &svc.instances[free[r.IntN(len(free))]]
		case m.instanceCount() < 2*m.instancesTarget+4:
			svc.instances = append(svc.instances, instanceModel{id: newUUID(r), host: r.IntN(w.cfg.ServiceHosts)})
			in = &svc.instances[len(svc.instances)-1]
		default:
			return false
		}
		in.registered = true
		w.instanceArgs(op, svc.name, *in)
	case KindServiceDeregister, KindServiceUpdate:
		var reg [][2]int
		for s, svc := range m.services {
			for i, in := range svc.instances {
				if in.registered {
					reg = append(reg, [2]int{s, i})
				}
			}
		}
		if len(reg) == 0 {
			return false
		}
		x := reg[r.IntN(len(reg))]
		in := &m.services[x[0]].instances[x[1]]
		if k == KindServiceDeregister {
			in.registered = false
		}
		w.instanceArgs(op, m.services[x[0]].name, *in)
	case KindServiceHostRestart:
		h := r.IntN(w.cfg.ServiceHosts)
		a.host, op.N, op.Path = h, h, w.p("/services")
		for _, svc := range m.services {
			for _, in := range svc.instances {
				if in.registered && in.host == h {
					a.instances = append(a.instances, instanceRef{service: svc.name, id: in.id})
				}
			}
		}
	case KindStateUpdate:
		c := m.collections[r.IntN(len(m.collections))]
		a.collection, a.layout, op.Path = c.name, c.layout, w.statePathSolr(c.name)
	case KindOverseerPut:
		if m.overseer >= 3*m.overseerTarget+50 {
			return false
		}
		c := m.collections[r.IntN(len(m.collections))]
		a.collection, a.layout, op.Path = c.name, c.layout, w.p("/overseer/queue/qn-")
		m.overseer++
	case KindOverseerTake:
		if m.overseer == 0 {
			return false
		}
		n := min(1+r.IntN(5), m.overseer)
		m.overseer -= n
		c := m.collections[r.IntN(len(m.collections))]
		a.collection, a.layout, op.Path, op.N = c.name, c.layout, w.p("/overseer/queue"), n
	default:
		return false
	}
	return true
}

func (w *Workload) drawQueueItem(r *rand.Rand, op *Op, k Kind, q, n int) {
	op.Kind = k
	op.a = args{seed: r.Uint64(), at: w.m.clock, queue: w.m.queues[q].name}
	op.Path = w.queuePath(op.a.queue) + "/qn-"
	if k == KindQueueBurst {
		op.N = n
	}
	w.m.queues[q].items += n
}

func (m *model) instanceCount() int {
	n := 0
	for _, s := range m.services {
		n += len(s.instances)
	}
	return n
}

func (w *Workload) topicArgs(op *Op, t topicModel) {
	op.a.topic, op.a.partitions, op.a.epoch = t.name, t.partitions, w.m.epoch
	op.a.replicas = []int{t.start}
	op.Path, op.N = w.p("/brokers/topics/"+t.name), t.partitions
}

// brokerArgs fills a restart, stop or start of broker b: when b is the
// controller the next live broker takes over, and a broker that comes back
// to a cluster without one becomes it, each time with the next epoch.
func (w *Workload) brokerArgs(op *Op, b int, comesBack bool) {
	m := w.m
	op.a.broker, op.N, op.Path = b, b, w.p(fmt.Sprintf("/brokers/ids/%d", b))
	switch {
	case m.controller == b:
		m.controller = 0
		n := len(m.brokers)
		for i := 1; i <= n; i++ {
			c := m.brokers[(b-1+i)%n]
			if (c.live && c.id != b) || (c.id == b && comesBack) {
				m.controller = c.id
				break
			}
		}
	case m.controller == 0 && comesBack:
		m.controller = b
	default:
		return
	}
	if m.controller != 0 {
		m.epoch++
	}
	op.a.controller, op.a.epoch = m.controller, m.epoch
}

func (w *Workload) lockArgs(op *Op, h holder) {
	op.a.client, op.a.uuid, op.a.lock = h.client, h.uuid, w.m.locks[h.lock]
	op.Path = w.lockPrefix(op.a.lock, h.uuid)
}

func (w *Workload) instanceArgs(op *Op, svc string, in instanceModel) {
	op.a.service, op.a.instance, op.a.host = svc, in.id, in.host
	op.Path = w.p("/services/" + svc + "/" + in.id)
}

func (w *Workload) statePath(topic string, p int) string {
	return w.p(fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p))
}

func (w *Workload) statePathSolr(c string) string { return w.p("/collections/" + c + "/state.json") }

func (w *Workload) queuePath(q string) string { return w.p("/queues/" + q) }

func (w *Workload) lockPrefix(lock, uuid string) string {
	return w.p("/locks/" + lock + "/_c_" + uuid + "-lock-")
}

// pickPartitions draws a topic's partition count, mostly small, at most max.
func pickPartitions(r *rand.Rand, maxP int) int {
	choices := []int{1, 1, 3, 3, 6, 6, 8, 12, 12, 16, 24, 32, 50, 100}
	return min(choices[r.IntN(len(choices))], maxP)
}

// newUUID draws a version-4 UUID.
func newUUID(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0xfff,
		uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

var (
	queueNames      = []string{"orders", "emails", "thumbnails", "indexing", "billing", "exports", "webhooks", "reports"}
	serviceNames    = []string{"api", "auth", "search", "checkout", "payments", "inventory", "notifications", "gateway", "profile", "catalog", "shipping", "recommendations"}
	collectionNames = []string{"products", "logs", "articles", "users", "orders", "events", "documents", "metrics"}
)

func queueName(i int) string      { return nameFrom(queueNames, "queue", i) }
func serviceName(i int) string    { return nameFrom(serviceNames, "service", i) }
func collectionName(i int) string { return nameFrom(collectionNames, "collection", i) }
func lockName(i int) string       { return fmt.Sprintf("job-%03d", i) }

func nameFrom(names []string, stem string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("%s-%03d", stem, i)
}
