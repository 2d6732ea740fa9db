package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktree"
)

// RejoinOptions configure Rejoin.
type RejoinOptions struct {
	// Site is the returning site, Peer the active one.
	Site, Peer string
	// Dir is where the divergence report is written (created if missing).
	Dir string
	// Scope is the replicated scope: only nodes in it are compared, because
	// only those are ever overwritten or deleted by the applier.
	Scope  zkpath.Scope
	Logger hclog.Logger
}

// RejoinResult says what a rejoin did.
type RejoinResult struct {
	Site       string    `json:"site"`
	ActiveSite string    `json:"active_site"`
	Epoch      uint64    `json:"epoch"` // the epoch the site is standby at
	Report     string    `json:"report"`
	Divergent  int       `json:"divergent"` // nodes written to the report
	At         time.Time `json:"at"`
	Took       Duration  `json:"took"`
}

// Rejoin brings a returning old primary back as the standby of the active
// peer, without losing any of its own writes silently:
//
//  1. its record is fenced at the peer's epoch (unless it already is), so that
//     neither its daemon nor a restart of it ever publishes again;
//  2. every node of its own that following the peer's journal would overwrite or
//     delete (FindDivergence against the peer's tree as it is now) is written to
//     a JSON lines divergence report in opts.Dir, which is synced and closed;
//  3. the reported nodes the peer does not have are deleted here, children
//     first, each at the version the report holds (a write after the
//     comparison fails the rejoin, which the daemon runs again), so that
//     applying the peer's snapshot deletes nothing the report lacks and the
//     delete guard, which protects a standby from a primary's mass delete,
//     has nothing of this to weigh;
//  4. only then its record says standby at the peer's epoch, and the daemon
//     starts applying the peer's journal.
//
// The standby is brought to the peer's tree by the peer's snapshot: a source
// publishes a snapshot every time it starts (its bootstrap), and the current
// active period of the peer started after this site last applied the peer's
// journal, so the applier meets that snapshot whatever its checkpoint is, and
// the snapshot's end deletes what the peer does not have. A node the peer
// changes after the comparison is the peer's newer write, not a lost one.
//
// local and peer are connections to the two ensembles, with credentials that
// can read every node in scope.
func Rejoin(ctx context.Context, local, peer *zk.Conn, opts RejoinOptions) (RejoinResult, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("rejoin")
	peerRec, _, err := site.ReadRecord(ctx, peer)
	if err != nil {
		return RejoinResult{}, fmt.Errorf("read the peer's site record: %w", err)
	}
	if peerRec.Role != site.RoleActive {
		return RejoinResult{}, fmt.Errorf("%w: peer %s is %s, not active", site.ErrNotActive, peerRec.Site, peerRec.Role)
	}
	own, version, err := site.ReadRecord(ctx, local)
	if err != nil {
		return RejoinResult{}, err
	}
	res := RejoinResult{Site: own.Site, ActiveSite: peerRec.Site, Epoch: max(own.Epoch, peerRec.Epoch)}
	if own.Role == site.RoleStandby && own.Epoch >= peerRec.Epoch {
		return res, nil // already rejoined
	}
	if own.Role != site.RoleFenced || own.Epoch < peerRec.Epoch {
		own, version, err = site.WriteRecord(ctx, local, site.Record{
			Site: own.Site, Role: site.RoleFenced, Epoch: res.Epoch, ChangedBy: site.ChangedByRejoin,
			Reason: fmt.Sprintf("site %s is active at epoch %d", peerRec.Site, peerRec.Epoch),
		}, version)
		if err != nil {
			return RejoinResult{}, fmt.Errorf("fence the returning site: %w", err)
		}
		log.Warn("fenced: the peer was promoted while this site was away", "peer", peerRec.Site, "epoch", own.Epoch)
	}

	log.Info("comparing with the active site before anything is overwritten", "peer", peerRec.Site)
	activeTree, err := zktree.Walk(ctx, peer, "/", zktree.Options{Skip: zkpath.AlwaysExcluded()})
	if err != nil {
		return RejoinResult{}, fmt.Errorf("walk the active site: %w", err)
	}
	nodes, err := FindDivergence(ctx, local, treeNodes(activeTree, opts.Scope), DivergenceOptions{})
	if err != nil {
		return RejoinResult{}, err
	}
	kept := nodes[:0]
	for _, n := range nodes {
		if opts.Scope.Contains(n.Path) || len(opts.Scope.Include) == 0 {
			kept = append(kept, n)
		}
	}
	nodes = kept
	res.Report, err = writeDivergenceReport(opts.Dir, own.Site, res.Epoch, nodes)
	if err != nil {
		return RejoinResult{}, err
	}
	res.Divergent = len(nodes)
	log.Warn("divergence report written", "file", res.Report, "nodes", len(nodes))
	deleted, err := deleteReported(local, nodes)
	if err != nil {
		return RejoinResult{}, fmt.Errorf("delete the reported nodes the active site does not have: %w", err)
	}
	if deleted > 0 {
		log.Info("deleted the reported nodes the active site does not have", "nodes", deleted, "file", res.Report)
	}

	_, _, err = site.WriteRecord(ctx, local, site.Record{
		Site: own.Site, Role: site.RoleStandby, Epoch: res.Epoch, ChangedBy: site.ChangedByRejoin,
		Reason: fmt.Sprintf("standby of %s; divergence report %s (%d nodes)", peerRec.Site, res.Report, len(nodes)),
	}, version)
	if err != nil {
		return RejoinResult{}, fmt.Errorf("make the returning site standby: %w", err)
	}
	res.At, res.Took = time.Now().UTC(), Duration(time.Since(start))
	log.Info("rejoined as standby", "active", peerRec.Site, "epoch", res.Epoch, "took", time.Since(start))
	return res, nil
}

// deleteReported deletes the nodes of a divergence report that the active
// site does not have, children first, each at its reported version, in Multis
// of up to rejoinDeleteBatch.
func deleteReported(conn *zk.Conn, nodes []DivergentNode) (int, error) {
	var doomed []DivergentNode
	for _, n := range nodes {
		if n.ReplacedBy == ReplacedByDeleted {
			doomed = append(doomed, n)
		}
	}
	// Deeper first; a parent's path sorts before its children's, so reverse order
	// puts every child before its parent.
	sort.Slice(doomed, func(i, j int) bool { return doomed[i].Path > doomed[j].Path })
	total := len(doomed)
	for len(doomed) > 0 {
		k := min(len(doomed), rejoinDeleteBatch)
		ops := make([]any, 0, k)
		for _, n := range doomed[:k] {
			ops = append(ops, &zk.DeleteRequest{Path: n.Path, Version: n.Stat.Version})
		}
		if _, err := conn.Multi(ops...); err != nil {
			return 0, err
		}
		doomed = doomed[k:]
	}
	return total, nil
}

const rejoinDeleteBatch = 500

// treeNodes yields the in-scope nodes of a walked tree as FindDivergence wants
// them.
func treeNodes(t zktree.Tree, scope zkpath.Scope) iter.Seq2[ActiveNode, error] {
	return func(yield func(ActiveNode, error) bool) {
		paths := make([]string, 0, len(t))
		for p := range t {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			if len(scope.Include) > 0 && !scope.Contains(p) {
				continue
			}
			n := t[p]
			if !yield(ActiveNode{Path: p, Data: n.Data, ACL: n.ACL}, nil) {
				return
			}
		}
	}
}

// DefaultDivergenceDir is where divergence reports go when nothing else is set:
// a directory under the daemon's working directory.
const DefaultDivergenceDir = "zkdr-divergence"

// writeDivergenceReport writes nodes as JSON lines to a new file in dir, syncs
// and closes it, and returns its path. The file is written even when there is
// nothing to report, as the record that the comparison ran.
func writeDivergenceReport(dir, site string, epoch uint64, nodes []DivergentNode) (string, error) {
	if dir == "" {
		dir = DefaultDivergenceDir
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("divergence report: %w", err)
	}
	name := fmt.Sprintf("divergence-%s-epoch%d-%s.jsonl", site, epoch, time.Now().UTC().Format("20060102T150405.000000000Z"))
	path := filepath.Join(dir, name)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return "", fmt.Errorf("divergence report: %w", err)
	}
	w := NewDivergenceWriter(f)
	for _, n := range nodes {
		if err = w.Write(n); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("divergence report %s: %w", path, err)
	}
	return path, nil
}

// ReadDivergenceReport reads a report written by Rejoin.
func ReadDivergenceReport(path string) ([]DivergentNode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	var out []DivergentNode
	for {
		var n DivergentNode
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("divergence report %s: %w", path, err)
		}
		out = append(out, n)
	}
}
