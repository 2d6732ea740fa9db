package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// solrLayout is a collection's shape: shards, and replicas of each.
type solrLayout struct {
	shards, replicas int
}

// Solr's state.json, in the shape Solr 8 and 9 write it.
type (
	solrCollection struct {
		PullReplicas      string               `json:"pullReplicas"`
		ReplicationFactor string               `json:"replicationFactor"`
		Shards            map[string]solrShard `json:"shards"`
		Router            map[string]string    `json:"router"`
		MaxShardsPerNode  string               `json:"maxShardsPerNode"`
		AutoAddReplicas   string               `json:"autoAddReplicas"`
		NrtReplicas       string               `json:"nrtReplicas"`
		TlogReplicas      string               `json:"tlogReplicas"`
	}
	solrShard struct {
		Range    string                 `json:"range"`
		State    string                 `json:"state"`
		Replicas map[string]solrReplica `json:"replicas"`
	}
	solrReplica struct {
		Core          string `json:"core"`
		NodeName      string `json:"node_name"`
		BaseURL       string `json:"base_url"`
		State         string `json:"state"`
		Type          string `json:"type"`
		ForceSetState string `json:"force_set_state"`
		Leader        string `json:"leader,omitempty"`
	}
	overseerItem struct {
		Operation    string `json:"operation"`
		Core         string `json:"core"`
		BaseURL      string `json:"base_url"`
		NodeName     string `json:"node_name"`
		Shard        string `json:"shard"`
		Collection   string `json:"collection"`
		CoreNodeName string `json:"core_node_name"`
		State        string `json:"state"`
		Type         string `json:"type"`
	}
)

// solrNodes is how many Solr nodes the replicas are spread over.
const solrNodes = 12

func solrNode(i int) (name, url string) {
	host := fmt.Sprintf("10.0.2.%d:8983", i%solrNodes+1)
	return host + "_solr", "http://" + host + "/solr"
}

// solrState draws a collection's state.json: every replica's state (mostly
// active) and every shard's leader.
func solrState(name string, l solrLayout, r *rand.Rand) []byte {
	c := solrCollection{
		PullReplicas: "0", ReplicationFactor: strconv.Itoa(l.replicas), Shards: map[string]solrShard{},
		Router: map[string]string{"name": "compositeId"}, MaxShardsPerNode: "-1", AutoAddReplicas: "false",
		NrtReplicas: strconv.Itoa(l.replicas), TlogReplicas: "0",
	}
	span := uint64(1) << 32
	for s := range l.shards {
		lo, hi := uint32(uint64(s)*span/uint64(l.shards)+1<<31), uint32(uint64(s+1)*span/uint64(l.shards)-1+1<<31)
		sh := solrShard{Range: fmt.Sprintf("%x-%x", lo, hi), State: "active", Replicas: map[string]solrReplica{}}
		leader := r.IntN(l.replicas)
		for j := range l.replicas {
			n := s*l.replicas + j + 1
			node, url := solrNode(s + j*5)
			rep := solrReplica{Core: fmt.Sprintf("%s_shard%d_replica_n%d", name, s+1, n), NodeName: node, BaseURL: url,
				State: "active", Type: "NRT", ForceSetState: "false"}
			switch x := r.IntN(20); {
			case x == 0:
				rep.State = "recovering"
			case x == 1:
				rep.State = "down"
			}
			if j == leader {
				rep.Leader = "true"
			}
			sh.Replicas[fmt.Sprintf("core_node%d", n)] = rep
		}
		c.Shards[fmt.Sprintf("shard%d", s+1)] = sh
	}
	return mustJSON(map[string]solrCollection{name: c})
}

// planLayout finds the shards that make the collection's state.json about
// target bytes, within [lo, hi].
func planLayout(name string, target, lo, hi, replicas int, r *rand.Rand) solrLayout {
	l := solrLayout{shards: 1, replicas: replicas}
	one := len(solrState(name, l, r))
	l.shards = max(1, target/max(1, one))
	for range 50 {
		n := len(solrState(name, l, r))
		switch {
		case n < lo && n < target:
			l.shards++
		case n > hi && l.shards > 1:
			l.shards--
		default:
			return l
		}
	}
	return l
}

func (w *Workload) execStateUpdate(ctx context.Context, op *Op) error {
	r := rand.New(rand.NewPCG(op.a.seed, 7))
	return w.writeState(ctx, op, op.a.collection, op.a.layout, r)
}

// writeState rewrites a collection's state.json with the version it read, as
// Solr's overseer does, again after a concurrent write. A collection that is
// gone is left.
func (w *Workload) writeState(ctx context.Context, op *Op, collection string, l solrLayout, r *rand.Rand) error {
	p := w.statePathSolr(collection)
	for attempt := 0; ; attempt++ {
		_, st, err := w.get(ctx, w.main, p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return w.opErr(op, p, err)
		}
		err = w.set(ctx, op, w.main, p, solrState(collection, l, r), st.Version)
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrBadVersion) && attempt < 5:
			continue
		case errors.Is(err, zk.ErrBadVersion):
			return w.opErr(op, p, err)
		}
		return err
	}
}

// overseerData draws an overseer queue item: a replica's state change.
func overseerData(r *rand.Rand, collection string, l solrLayout) []byte {
	s, j := r.IntN(l.shards), r.IntN(l.replicas)
	n := s*l.replicas + j + 1
	node, url := solrNode(s + j*5)
	return mustJSON(overseerItem{Operation: "state", Core: fmt.Sprintf("%s_shard%d_replica_n%d", collection, s+1, n),
		BaseURL: url, NodeName: node, Shard: fmt.Sprintf("shard%d", s+1), Collection: collection,
		CoreNodeName: fmt.Sprintf("core_node%d", n), State: []string{"active", "recovering", "down"}[r.IntN(3)], Type: "NRT"})
}

func (w *Workload) execOverseerPut(ctx context.Context, op *Op) error {
	r := rand.New(rand.NewPCG(op.a.seed, 8))
	_, err := w.create(ctx, op, w.main, op.Path, overseerData(r, op.a.collection, op.a.layout), zk.FlagSequence)
	return err
}

// execOverseerTake is the overseer's loop: read up to N items from the head
// of its queue, write the collection's state once for all of them, then
// delete them.
func (w *Workload) execOverseerTake(ctx context.Context, op *Op) error {
	kids, err := w.children(ctx, w.main, op.Path)
	if errors.Is(err, zk.ErrNoNode) || len(kids) == 0 {
		return nil
	}
	if err != nil {
		return w.opErr(op, op.Path, err)
	}
	kids = bySequence(kids)[:min(op.N, len(kids))]
	var reqs []any
	for _, k := range kids {
		p := op.Path + "/" + k
		if _, _, err := w.get(ctx, w.main, p); err != nil {
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			return w.opErr(op, p, err)
		}
		reqs = append(reqs, &zk.DeleteRequest{Path: p, Version: -1})
	}
	r := rand.New(rand.NewPCG(op.a.seed, 7))
	if err := w.writeState(ctx, op, op.a.collection, op.a.layout, r); err != nil {
		return err
	}
	return w.multi(ctx, op, w.main, reqs)
}
