package workload

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// Kafka's znode data, in the shapes Kafka 3 writes.
type (
	brokerInfo struct {
		Features                    map[string]any    `json:"features"`
		ListenerSecurityProtocolMap map[string]string `json:"listener_security_protocol_map"`
		Endpoints                   []string          `json:"endpoints"`
		JmxPort                     int               `json:"jmx_port"`
		Port                        int               `json:"port"`
		Host                        string            `json:"host"`
		Version                     int               `json:"version"`
		Timestamp                   string            `json:"timestamp"`
	}
	topicAssignment struct {
		RemovingReplicas map[string][]int `json:"removing_replicas"`
		Partitions       map[string][]int `json:"partitions"`
		TopicID          string           `json:"topic_id"`
		AddingReplicas   map[string][]int `json:"adding_replicas"`
		Version          int              `json:"version"`
	}
	partitionState struct {
		ControllerEpoch int   `json:"controller_epoch"`
		Leader          int   `json:"leader"`
		Version         int   `json:"version"`
		LeaderEpoch     int   `json:"leader_epoch"`
		ISR             []int `json:"isr"`
	}
	controllerInfo struct {
		Version              int    `json:"version"`
		BrokerID             int    `json:"brokerid"`
		Timestamp            string `json:"timestamp"`
		KraftControllerEpoch int    `json:"kraftControllerEpoch"`
	}
	entityConfig struct {
		Version int               `json:"version"`
		Config  map[string]string `json:"config"`
	}
	changeNotification struct {
		Version    int    `json:"version"`
		EntityPath string `json:"entity_path"`
	}
	isrNotification struct {
		Version    int              `json:"version"`
		Partitions []topicPartition `json:"partitions"`
	}
	topicPartition struct {
		Topic     string `json:"topic"`
		Partition int    `json:"partition"`
	}
)

// mustJSON encodes v, which is one of this package's own types.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("workload: encode %T: %v", v, err))
	}
	return b
}

// legalTopic is Kafka's rule for topic names.
var legalTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// MaxPartitions bounds CreateTopic's partitions.
const MaxPartitions = 10_000

// CreateTopic creates a topic as Kafka does: its config, its partition
// assignment, then the controller's partition state znodes in Multi chunks
// (2×partitions+3 znodes in all). It returns how many znodes it created.
func (w *Workload) CreateTopic(ctx context.Context, name string, partitions int) (int, error) {
	if !legalTopic.MatchString(name) || name == "." || name == ".." {
		return 0, fmt.Errorf("workload: %q is not a legal topic name", name)
	}
	if partitions < 1 || partitions > MaxPartitions {
		return 0, fmt.Errorf("workload: partitions must be 1..%d, got %d", MaxPartitions, partitions)
	}
	if err := w.begin(); err != nil {
		return 0, err
	}
	w.mu.Lock()
	if slices.ContainsFunc(w.m.topics, func(t topicModel) bool { return t.name == name }) {
		w.mu.Unlock()
		return 0, fmt.Errorf("%w: %s", ErrTopicExists, name)
	}
	h := nameHash(name)
	t := topicModel{name: name, partitions: partitions, start: int(h % uint64(w.cfg.Brokers))}
	w.m.topics = append(w.m.topics, t)
	op := &Op{Kind: KindTopicCreate, a: args{seed: h, at: w.m.clock}}
	w.topicArgs(op, t)
	w.mu.Unlock()
	w.execute(ctx, op)
	return op.Creates, op.Err
}

// DeleteTopic deletes a topic as Kafka's controller does: a marker under
// /admin/delete_topics, the topic's subtree (children before parents, in
// Multi chunks), its config, then the marker. It returns how many of the
// topic's znodes it deleted (2×partitions+3 for a whole topic; the marker is
// not counted).
func (w *Workload) DeleteTopic(ctx context.Context, name string) (int, error) {
	if err := w.begin(); err != nil {
		return 0, err
	}
	w.mu.Lock()
	i := slices.IndexFunc(w.m.topics, func(t topicModel) bool { return t.name == name })
	t := topicModel{name: name}
	if i >= 0 {
		t = w.m.topics[i]
		w.m.topics = slices.Delete(w.m.topics, i, i+1)
	}
	op := &Op{Kind: KindTopicDelete, a: args{seed: nameHash(name), at: w.m.clock}}
	w.topicArgs(op, t)
	w.mu.Unlock()
	if i < 0 {
		ok, err := w.exists(ctx, op.Path)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("%w: %s", ErrUnknownTopic, name)
		}
	}
	var n int
	w.executeFunc(ctx, op, func() error {
		var err error
		n, err = w.execTopicDelete(ctx, op)
		return err
	})
	return n, op.Err
}

// StopBroker closes broker id's session: its registration goes, and when it
// was the controller the next live broker takes /controller with the next
// epoch. Stopping a stopped broker does nothing.
func (w *Workload) StopBroker(ctx context.Context, id int) error {
	return w.brokerOp(ctx, id, KindBrokerStop)
}

// StartBroker opens a stopped broker's session and registers it again; with
// no controller it becomes the controller. Starting a live broker does
// nothing.
func (w *Workload) StartBroker(ctx context.Context, id int) error {
	return w.brokerOp(ctx, id, KindBrokerStart)
}

// RestartBroker closes broker id's session and opens another, as a broker's
// restart does: /brokers/ids/<id> goes and comes back with a new owner (and
// so does /controller, on the next live broker, when it was the controller).
// A stopped broker is started.
func (w *Workload) RestartBroker(ctx context.Context, id int) error {
	return w.brokerOp(ctx, id, KindBrokerRestart)
}

func (w *Workload) brokerOp(ctx context.Context, id int, k Kind) error {
	if id < 1 || id > w.cfg.Brokers {
		return fmt.Errorf("%w: %d (brokers are 1..%d)", ErrUnknownBroker, id, w.cfg.Brokers)
	}
	if err := w.begin(); err != nil {
		return err
	}
	w.mu.Lock()
	b := &w.m.brokers[id-1]
	switch {
	case k == KindBrokerStop && !b.live, k == KindBrokerStart && b.live:
		w.mu.Unlock()
		return nil
	case k == KindBrokerRestart && !b.live:
		k = KindBrokerStart
	}
	b.live = k != KindBrokerStop
	op := &Op{Kind: k, a: args{at: w.m.clock}}
	w.brokerArgs(op, id, b.live)
	w.mu.Unlock()
	w.execute(ctx, op)
	return op.Err
}

func (w *Workload) execTopicCreate(ctx context.Context, op *Op) error {
	a := op.a
	r := rand.New(rand.NewPCG(a.seed, 3))
	t := topicModel{name: a.topic, partitions: a.partitions, start: a.replicas[0]}
	if _, err := w.create(ctx, op, w.main, w.p("/config/topics/"+t.name), mustJSON(entityConfig{Version: 1, Config: map[string]string{}}), 0); err != nil {
		return err
	}
	assign := topicAssignment{RemovingReplicas: map[string][]int{}, AddingReplicas: map[string][]int{},
		Partitions: map[string][]int{}, TopicID: topicID(r), Version: 3}
	for p := range t.partitions {
		assign.Partitions[strconv.Itoa(p)] = t.replicas(p, w.cfg.Brokers, w.cfg.ReplicationFactor)
	}
	if _, err := w.create(ctx, op, w.main, op.Path, mustJSON(assign), 0); err != nil {
		return err
	}
	// The controller writes the partitions' states, a chunk to a Multi.
	reqs := []any{&zk.CreateRequest{Path: op.Path + "/partitions", Acl: w.open}}
	for p := range t.partitions {
		replicas := t.replicas(p, w.cfg.Brokers, w.cfg.ReplicationFactor)
		st := partitionState{ControllerEpoch: a.epoch, Leader: replicas[0], Version: 1, ISR: replicas}
		pp := fmt.Sprintf("%s/partitions/%d", op.Path, p)
		reqs = append(reqs, &zk.CreateRequest{Path: pp, Acl: w.open},
			&zk.CreateRequest{Path: pp + "/state", Data: mustJSON(st), Acl: w.open})
	}
	return w.multi(ctx, op, w.main, reqs)
}

// execTopicDelete returns how many of the topic's znodes it deleted.
func (w *Workload) execTopicDelete(ctx context.Context, op *Op) (int, error) {
	marker := w.p("/admin/delete_topics/" + op.a.topic)
	if _, err := w.create(ctx, op, w.main, marker, nil, 0); err != nil {
		return 0, err
	}
	before := op.Deletes
	if _, err := w.deleteTree(ctx, op, op.Path); err != nil {
		return op.Deletes - before, err
	}
	if err := w.remove(ctx, op, w.main, w.p("/config/topics/"+op.a.topic)); err != nil {
		return op.Deletes - before, err
	}
	n := op.Deletes - before
	return n, w.remove(ctx, op, w.main, marker)
}

// execISRChange rewrites a partition's state as a partition leader's ISR
// change does (read, change, write with the version read), then leaves a
// notification for the controller. A partition whose topic is gone is left.
func (w *Workload) execISRChange(ctx context.Context, op *Op) error {
	a := op.a
	for attempt := 0; ; attempt++ {
		data, st, err := w.get(ctx, w.main, op.Path)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return w.opErr(op, op.Path, err)
		}
		var s partitionState
		if json.Unmarshal(data, &s) != nil || len(s.ISR) == 0 {
			s = partitionState{Leader: a.replicas[0], Version: 1, ISR: a.replicas}
		}
		err = w.set(ctx, op, w.main, op.Path, mustJSON(changeISR(s, a)), st.Version)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if errors.Is(err, zk.ErrBadVersion) && attempt < 5 {
			continue
		}
		if err != nil {
			return w.opErr(op, op.Path, err)
		}
		break
	}
	n := isrNotification{Version: 1, Partitions: []topicPartition{{Topic: a.topic, Partition: a.partition}}}
	_, err := w.create(ctx, op, w.main, w.p("/isr_change_notification/isr_change_"), mustJSON(n), zk.FlagSequence)
	return err
}

// changeISR shrinks the ISR by a follower or restores it to every replica,
// and moves the leadership along the ISR when asked to (or when the leader
// left it), with the next leader epoch.
func changeISR(s partitionState, a args) partitionState {
	isr := slices.Clone(s.ISR)
	if a.shrink && len(isr) > 1 {
		for i := len(isr) - 1; i >= 0; i-- {
			if isr[i] != s.Leader {
				isr = slices.Delete(isr, i, i+1)
				break
			}
		}
	} else {
		isr = slices.Clone(a.replicas)
	}
	leader := s.Leader
	if i := slices.Index(isr, leader); a.elect && len(isr) > 1 && i >= 0 {
		leader = isr[(i+1)%len(isr)]
	} else if i < 0 {
		leader = isr[0]
	}
	if leader != s.Leader {
		s.LeaderEpoch++
	}
	s.Leader, s.ISR, s.ControllerEpoch = leader, isr, a.epoch
	return s
}

// execConfigChange sets a topic's config and announces it as Kafka's admin
// client does.
func (w *Workload) execConfigChange(ctx context.Context, op *Op) error {
	r := rand.New(rand.NewPCG(op.a.seed, 4))
	c := map[string]string{"retention.ms": strconv.Itoa(3_600_000 * (1 + r.IntN(168)))}
	if r.IntN(2) == 0 {
		c["cleanup.policy"] = []string{"delete", "compact"}[r.IntN(2)]
	}
	if r.IntN(3) == 0 {
		c["min.insync.replicas"] = strconv.Itoa(1 + r.IntN(2))
	}
	if r.IntN(4) == 0 {
		c["segment.bytes"] = strconv.Itoa((1 + r.IntN(8)) << 27)
	}
	err := w.set(ctx, op, w.main, op.Path, mustJSON(entityConfig{Version: 1, Config: c}), -1)
	if errors.Is(err, zk.ErrNoNode) {
		return nil // the topic is gone
	}
	if err != nil {
		return err
	}
	n := changeNotification{Version: 2, EntityPath: "topics/" + op.a.topic}
	_, err = w.create(ctx, op, w.main, w.p("/config/changes/config_change_"), mustJSON(n), zk.FlagSequence)
	return err
}

func (w *Workload) execBrokerRestart(ctx context.Context, op *Op) error {
	s := w.brokers[op.a.broker-1]
	if err := s.restart(ctx); err != nil {
		return w.opErr(op, op.Path, err)
	}
	return w.brokerUp(ctx, op)
}

func (w *Workload) execBrokerStop(ctx context.Context, op *Op) error {
	w.brokers[op.a.broker-1].stop()
	if op.a.controller != 0 {
		return w.becomeController(ctx, op, op.a.controller, op.a.epoch, op.a.at)
	}
	return nil
}

func (w *Workload) execBrokerStart(ctx context.Context, op *Op) error {
	if _, err := w.brokers[op.a.broker-1].get(ctx); err != nil {
		return w.opErr(op, op.Path, err)
	}
	return w.brokerUp(ctx, op)
}

// brokerUp registers a broker whose session is open, and hands /controller
// over when the draw said so.
func (w *Workload) brokerUp(ctx context.Context, op *Op) error {
	if err := w.registerBroker(ctx, op, op.a.broker, op.a.at); err != nil {
		return err
	}
	if op.a.controller != 0 {
		return w.becomeController(ctx, op, op.a.controller, op.a.epoch, op.a.at)
	}
	return nil
}

func (w *Workload) registerBroker(ctx context.Context, op *Op, id int, at int64) error {
	host := fmt.Sprintf("kafka-%d.kafka.svc", id)
	info := brokerInfo{
		Features:                    map[string]any{},
		ListenerSecurityProtocolMap: map[string]string{"PLAINTEXT": "PLAINTEXT"},
		Endpoints:                   []string{"PLAINTEXT://" + host + ":9092"},
		JmxPort:                     -1, Port: 9092, Host: host, Version: 5, Timestamp: strconv.FormatInt(at, 10),
	}
	return w.createEphemeral(ctx, op, w.brokers[id-1], w.p(fmt.Sprintf("/brokers/ids/%d", id)), mustJSON(info))
}

// becomeController makes broker id the controller: /controller, an ephemeral
// of its session (waiting for the previous controller's to go), then the
// epoch.
func (w *Workload) becomeController(ctx context.Context, op *Op, id, epoch int, at int64) error {
	info := controllerInfo{Version: 2, BrokerID: id, Timestamp: strconv.FormatInt(at, 10), KraftControllerEpoch: -1}
	if err := w.createEphemeral(ctx, op, w.brokers[id-1], w.p("/controller"), mustJSON(info)); err != nil {
		return err
	}
	p, data := w.p("/controller_epoch"), []byte(strconv.Itoa(epoch))
	err := w.set(ctx, op, w.main, p, data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = w.create(ctx, op, w.main, p, data, 0)
	}
	if err != nil && !errors.As(err, new(*OpError)) {
		err = w.opErr(op, p, err)
	}
	return err
}

// topicID draws a Kafka topic id: 16 bytes, URL-safe base64 without padding.
func topicID(r *rand.Rand) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
