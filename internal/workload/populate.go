package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/go-zookeeper/zk"
)

// Populate builds the base tree: about Config.Size znodes over every shape
// (Kafka's skeleton, brokers and topics, locks with holders, queues with
// items, registered service instances, Solr collections with their
// state.json and overseer queue items). Existing nodes count as made, but
// sequential items are added again, so it is meant for a fresh tree (or one
// Wipe emptied). Run may follow only once it has returned nil.
func (w *Workload) Populate(ctx context.Context) error {
	w.mu.Lock()
	switch {
	case w.closed:
		w.mu.Unlock()
		return ErrClosed
	case w.running:
		w.mu.Unlock()
		return ErrRunning
	}
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}()

	m := w.plan(rand.New(rand.NewPCG(w.cfg.Seed, 1)))
	w.log.Info("populating", "prefix", w.cfg.Prefix, "size", w.cfg.Size, "topics", len(m.topics))
	op := &Op{Kind: KindPopulate, Path: w.cfg.Prefix}
	w.executeFunc(ctx, op, func() error {
		err := w.build(ctx, op, m)
		op.N = op.Creates
		return err
	})
	if op.Err != nil {
		return op.Err
	}
	w.mu.Lock()
	w.m, w.populated = m, true
	w.mu.Unlock()
	w.log.Info("populated", "created", op.Creates, "bytes", op.Bytes, "took", op.Took)
	return nil
}

// plan draws the base tree's model: how many of each shape, their names,
// owners and layouts, from the size.
func (w *Workload) plan(r *rand.Rand) *model {
	c := w.cfg
	s := c.Size
	m := &model{clock: startClock, controller: 1, epoch: 1}
	for i := range c.Brokers {
		m.brokers = append(m.brokers, brokerModel{id: i + 1, live: true})
	}
	for i := range max(2, s/100) {
		m.locks = append(m.locks, lockName(i))
	}
	m.holdersTarget = s / 50
	for range m.holdersTarget {
		m.holders = append(m.holders, holder{client: r.IntN(c.LockClients), lock: r.IntN(len(m.locks)), uuid: newUUID(r)})
	}
	m.itemsTarget = s / 10 / c.Queues
	for i := range c.Queues {
		m.queues = append(m.queues, queueModel{name: queueName(i), items: m.itemsTarget})
	}
	for i := range max(2, s/200) {
		m.services = append(m.services, serviceModel{name: serviceName(i)})
	}
	m.instancesTarget = s / 20
	for i := range m.instancesTarget + m.instancesTarget/10 {
		svc := &m.services[r.IntN(len(m.services))]
		// A tenth of the instances are down at the start, for registrations to come.
		svc.instances = append(svc.instances, instanceModel{id: newUUID(r), host: r.IntN(c.ServiceHosts), registered: i < m.instancesTarget})
	}
	for i := range c.Collections {
		target := c.StateMin + r.IntN(c.StateMax-c.StateMin+1)
		name := collectionName(i)
		m.collections = append(m.collections, collectionModel{name: name,
			layout: planLayout(name, target, c.StateMin, c.StateMax, 2+r.IntN(2), rand.New(rand.NewPCG(c.Seed, uint64(100+i))))})
	}
	m.overseerTarget, m.overseer = s/100, s/100
	m.configs = s / 200

	// Kafka's topics take what is left.
	left := s - m.fixedNodes()
	for left >= 5 || len(m.topics) == 0 {
		p := min(pickPartitions(r, 100), max(1, (left-3)/2))
		m.topics = append(m.topics, topicModel{name: fmt.Sprintf("topic-%04d", m.nextTopic), partitions: p, start: r.IntN(c.Brokers)})
		m.nextTopic++
		left -= 3 + 2*p
	}
	m.topicsTarget = len(m.topics)
	return m
}

// kafkaSkeleton is Kafka's fixed tree (without /controller and
// /controller_epoch, which have data), solrSkeleton Solr's.
var (
	kafkaSkeleton = []string{"/brokers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config", "/config/topics",
		"/config/changes", "/config/brokers", "/config/clients", "/config/users", "/admin", "/admin/delete_topics",
		"/isr_change_notification", "/cluster"}
	solrSkeleton = []string{"/collections", "/overseer", "/overseer/queue"}
)

// fixedNodes counts the base tree's znodes outside the topics.
func (m *model) fixedNodes() int {
	n := len(kafkaSkeleton) + 3 + len(m.brokers) // /controller, /controller_epoch, /cluster/id
	n += len(solrSkeleton) + 2*len(m.collections) + m.overseer
	n += 1 + len(m.locks) + len(m.holders)
	n += 1 + len(m.queues)
	for _, q := range m.queues {
		n += q.items
	}
	n += 1 + len(m.services)
	for _, s := range m.services {
		for _, in := range s.instances {
			if in.registered {
				n++
			}
		}
	}
	return n + m.configs
}

// build creates the tree m describes.
func (w *Workload) build(ctx context.Context, op *Op, m *model) error {
	r := rand.New(rand.NewPCG(w.cfg.Seed, 9))
	if w.cfg.Prefix != "" {
		if err := w.createParents(ctx, op, w.cfg.Prefix); err != nil {
			return err
		}
	}
	create := func(p string, data []byte, flags int32) *zk.CreateRequest {
		return &zk.CreateRequest{Path: w.p(p), Data: data, Flags: flags, Acl: w.open}
	}
	var reqs []any
	for _, p := range kafkaSkeleton {
		reqs = append(reqs, create(p, nil, 0))
	}
	reqs = append(reqs, create("/cluster/id", mustJSON(map[string]string{"version": "1", "id": topicID(r)}), 0),
		create("/controller_epoch", []byte("1"), 0))
	for _, p := range solrSkeleton {
		reqs = append(reqs, create(p, nil, 0))
	}
	for _, c := range m.collections {
		reqs = append(reqs, create("/collections/"+c.name, mustJSON(map[string]string{"configName": "_default"}), 0),
			create("/collections/"+c.name+"/state.json", solrState(c.name, c.layout, r), 0))
	}
	reqs = append(reqs, create("/locks", nil, 0), create("/queues", nil, 0), create("/services", nil, 0))
	for _, l := range m.locks {
		reqs = append(reqs, create("/locks/"+l, nil, 0))
	}
	for _, q := range m.queues {
		reqs = append(reqs, create("/queues/"+q.name, nil, 0))
	}
	for _, s := range m.services {
		reqs = append(reqs, create("/services/"+s.name, nil, 0))
	}
	for range m.configs {
		t := m.topics[r.IntN(len(m.topics))].name
		reqs = append(reqs, create("/config/changes/config_change_", mustJSON(changeNotification{Version: 2, EntityPath: "topics/" + t}), zk.FlagSequence))
	}
	for _, q := range m.queues {
		for range q.items {
			reqs = append(reqs, create("/queues/"+q.name+"/qn-", itemData(r, q.name, m.clock), zk.FlagSequence))
		}
	}
	for range m.overseer {
		c := m.collections[r.IntN(len(m.collections))]
		reqs = append(reqs, create("/overseer/queue/qn-", overseerData(r, c.name, c.layout), zk.FlagSequence))
	}
	if err := w.multi(ctx, op, w.main, reqs); err != nil {
		return err
	}

	for _, b := range m.brokers {
		if err := w.registerBroker(ctx, op, b.id, m.clock); err != nil {
			return err
		}
	}
	if err := w.becomeController(ctx, op, m.controller, m.epoch, m.clock); err != nil {
		return err
	}
	for _, t := range m.topics {
		top := &Op{Kind: KindTopicCreate, a: args{seed: r.Uint64(), at: m.clock, topic: t.name, partitions: t.partitions,
			replicas: []int{t.start}, epoch: m.epoch}, Path: w.p("/brokers/topics/" + t.name)}
		err := w.execTopicCreate(ctx, top)
		op.Creates, op.Bytes = op.Creates+top.Creates, op.Bytes+top.Bytes
		if err != nil {
			return err
		}
	}
	for _, h := range m.holders {
		lop := &Op{Kind: KindLockAcquire, a: args{client: h.client, uuid: h.uuid, lock: m.locks[h.lock]},
			Path: w.lockPrefix(m.locks[h.lock], h.uuid)}
		err := w.execLockAcquire(ctx, lop)
		op.Creates, op.Bytes = op.Creates+lop.Creates, op.Bytes+lop.Bytes
		if err != nil {
			return err
		}
	}
	// Each host registers its instances in one transaction.
	byHost := make([][]any, len(w.hosts))
	for _, s := range m.services {
		for _, in := range s.instances {
			if in.registered {
				byHost[in.host] = append(byHost[in.host], create("/services/"+s.name+"/"+in.id,
					instanceData(r, s.name, in.id, in.host, m.clock), zk.FlagEphemeral))
			}
		}
	}
	for h, reqs := range byHost {
		if err := w.multi(ctx, op, w.hosts[h], reqs); err != nil {
			return err
		}
	}
	return nil
}
