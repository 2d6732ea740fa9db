package workload

import "time"

// Kind names an application action.
type Kind string

// The kinds Run draws from Config.Mix, by application.
const (
	// Kafka.
	KindTopicCreate   Kind = "topic-create"   // config, assignment, partition states in Multi chunks
	KindTopicDelete   Kind = "topic-delete"   // /admin/delete_topics marker, the topic's subtree, its config
	KindISRChange     Kind = "isr-change"     // a partition's state rewritten (version check), a notification created
	KindISRDrain      Kind = "isr-drain"      // the controller reads and deletes the ISR notifications
	KindConfigChange  Kind = "config-change"  // a topic's config set, a config_change_ notification created
	KindConfigPurge   Kind = "config-purge"   // all but the newest config_change_ notifications deleted
	KindBrokerRestart Kind = "broker-restart" // a broker's session closed and reopened, its registration back

	// Curator locks.
	KindLockAcquire       Kind = "lock-acquire"        // an ephemeral sequential lock node, then the lock's children read
	KindLockRelease       Kind = "lock-release"        // a held lock node deleted
	KindLockClientRestart Kind = "lock-client-restart" // a lock client's session closed (its lock nodes go) and reopened

	// Queues.
	KindQueuePut   Kind = "queue-put"   // one item
	KindQueueBurst Kind = "queue-burst" // N items one after the other
	KindQueueTake  Kind = "queue-take"  // the oldest item read and deleted
	KindQueueDrain Kind = "queue-drain" // every item deleted

	// Service registry.
	KindServiceRegister    Kind = "service-register"     // an instance's ephemeral created
	KindServiceDeregister  Kind = "service-deregister"   // an instance's ephemeral deleted
	KindServiceUpdate      Kind = "service-update"       // an instance's data set
	KindServiceHostRestart Kind = "service-host-restart" // a host's session closed and reopened, its instances registered again

	// Solr.
	KindStateUpdate  Kind = "state-update"  // a collection's state.json rewritten (version check)
	KindOverseerPut  Kind = "overseer-put"  // an overseer queue item
	KindOverseerTake Kind = "overseer-take" // up to N items read, the collection's state written, the items deleted
)

// Kinds of the named operations only a caller starts. Populate records one
// Op of KindPopulate once it is done, N being the znodes it created.
const (
	KindBrokerStop  Kind = "broker-stop"
	KindBrokerStart Kind = "broker-start"
	KindWipe        Kind = "wipe"
	KindPopulate    Kind = "populate"
)

// Kinds lists the kinds Run draws, in the order the draw uses.
var Kinds = []Kind{
	KindTopicCreate, KindTopicDelete, KindISRChange, KindISRDrain, KindConfigChange, KindConfigPurge, KindBrokerRestart,
	KindLockAcquire, KindLockRelease, KindLockClientRestart,
	KindQueuePut, KindQueueBurst, KindQueueTake, KindQueueDrain,
	KindServiceRegister, KindServiceDeregister, KindServiceUpdate, KindServiceHostRestart,
	KindStateUpdate, KindOverseerPut, KindOverseerTake,
}

// DefaultMix is Run's default weights, out of about 1,000: mostly queue
// traffic, lock churn, ISR changes and service updates, a topic created or
// deleted about once in 250 operations, a session restart about once in 100.
func DefaultMix() map[Kind]int {
	return map[Kind]int{
		KindTopicCreate: 4, KindTopicDelete: 4, KindISRChange: 80, KindISRDrain: 15,
		KindConfigChange: 30, KindConfigPurge: 3, KindBrokerRestart: 2,
		KindLockAcquire: 110, KindLockRelease: 105, KindLockClientRestart: 3,
		KindQueuePut: 150, KindQueueBurst: 4, KindQueueTake: 140, KindQueueDrain: 2,
		KindServiceRegister: 30, KindServiceDeregister: 28, KindServiceUpdate: 90, KindServiceHostRestart: 3,
		KindStateUpdate: 20, KindOverseerPut: 80, KindOverseerTake: 30,
	}
}

// Op is one operation: what was drawn (Seq, Kind, Path, N: the same on every
// run from the same seed), then what it did.
type Op struct {
	// Seq is the operation's place in Run's sequence, from 1; 0 for a named
	// operation called directly (CreateTopic, Wipe...).
	Seq  int64
	Kind Kind
	// Path is the znode the operation is about: the topic, the lock node's
	// name before its sequence suffix, the queue, the instance, state.json.
	Path string
	// N is the operation's count, where it has one: partitions of a topic,
	// items of a burst, the most items an overseer take handles, the
	// broker's or the client's number of a restart.
	N int

	// Creates, Sets and Deletes count the writes the server accepted; Bytes
	// the data they wrote.
	Creates, Sets, Deletes int
	Bytes                  int
	// Err is why the operation did not finish: an *OpError, or the context's
	// error when Run was stopped in the middle of it.
	Err  error
	Took time.Duration

	a args // what the lane needs to carry it out
}

// args is what an operation was drawn with beyond Path and N.
type args struct {
	seed       uint64 // the payloads' generator
	at         int64  // logical time, Unix ms: timestamps in the data
	topic      string
	partitions int
	partition  int
	replicas   []int // the partition's or the topic's assignment start
	shrink     bool  // ISR change: drop a follower (else restore the full ISR)
	elect      bool  // ISR change: the leader moves to the next ISR member
	epoch      int   // controller epoch the controller writes
	broker     int
	controller int // broker that takes /controller, 0 for none
	client     int
	lock       string
	uuid       string
	queue      string
	service    string
	instance   string
	host       int
	instances  []instanceRef // a host restart registers these again
	collection string
	layout     solrLayout
}

// instanceRef names one registered service instance.
type instanceRef struct {
	service, id string
}
