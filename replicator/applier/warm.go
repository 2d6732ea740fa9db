package applier

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// A warm start uses the index of the standby that the applier saved when it
// last stopped (Config.IndexFile) instead of walking the standby again. The
// index is only worth trusting if nothing but that applier changed the
// standby since, and the witness of that is ZooKeeper's own digest of its
// whole tree (zkconn.TreeDigest): taken after the last Multi, saved with the
// index, and taken again at the next start before anything is written. Any
// create, delete, setData or setACL by anyone in between changes it;
// sessions and failed requests do not. A digest that differs, a checkpoint
// that moved, another stream or another scope, a standby that cannot tell
// its digest, or no file at all: the applier walks the standby as before (a
// cold start) and says why. The file is removed before the run first writes
// to the standby, so it is never used twice.

// indexFormat versions the file; another version is a cold start.
const indexFormat = 1

// savedIndex is the file: what the standby held when the applier stopped.
type savedIndex struct {
	Format int
	Stream string
	// Scope fingerprints the replicated scope and mapping the index was made
	// for.
	Scope string
	// Seq and Version are the checkpoint's sequence and znode version.
	Seq     uint64
	Version int32
	Digest  zkconn.Digest
	// Nodes holds the index sorted by path, so every parent comes before its
	// children.
	Nodes []savedNode
}

type savedNode struct {
	Path    string
	Mode    journal.Mode
	Counter int32
	ACL     uint64
}

// scopeFingerprint names the scope and mapping an index was built for.
func (a *Applier) scopeFingerprint() string {
	h := sha256.Sum256(fmt.Appendf(nil, "%#v|%#v", a.m.Scope, a.m.Maps))
	return hex.EncodeToString(h[:8])
}

// warmCandidate reads the saved index and compares its digest with the
// standby's now, before this run writes anything. It returns the index
// (nil for a cold start) and, when nil, why.
func (a *Applier) warmCandidate(ctx context.Context, conn *zk.Conn) (*savedIndex, string) {
	path := a.cfg.IndexFile
	if path == "" {
		return nil, "no index file configured"
	}
	saved, err := readIndexFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, "no saved index (the last stop was not clean, or this is the first start)"
	case err != nil:
		return nil, fmt.Sprintf("saved index unreadable: %v", err)
	case saved.Format != indexFormat:
		return nil, fmt.Sprintf("saved index has format %d, not %d", saved.Format, indexFormat)
	case saved.Stream != a.cfg.Stream:
		return nil, fmt.Sprintf("saved index is of stream %q", saved.Stream)
	case saved.Scope != a.scopeFingerprint():
		return nil, "the replicated scope changed since the index was saved"
	}
	now, err := zkconn.TreeDigest(ctx, conn)
	if err != nil {
		return nil, fmt.Sprintf("standby digest: %v", err)
	}
	if now.Value != saved.Digest.Value {
		return nil, fmt.Sprintf("the standby changed since the index was saved (tree digest %d at zxid %#x, saved %d at %#x)",
			now.Value, now.Zxid, saved.Digest.Value, saved.Digest.Zxid)
	}
	return saved, ""
}

// dropIndexFile removes the saved index before the run writes to the
// standby: from then on the standby moves past it, whatever it held.
func (a *Applier) dropIndexFile() {
	if a.cfg.IndexFile == "" {
		return
	}
	if err := os.Remove(a.cfg.IndexFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		a.log.Warn("cannot remove the saved index", "file", a.cfg.IndexFile, "error", err)
	}
}

// warmTree builds the index from saved if the checkpoint cp (read after this
// run claimed the standby) is the one saved with it.
func (a *Applier) warmTree(saved *savedIndex, cp Checkpoint) (*standbyTree, string) {
	if cp.Seq != saved.Seq || cp.Version != saved.Version {
		return nil, fmt.Sprintf("the checkpoint moved since the index was saved (sequence %d version %d, saved %d version %d)",
			cp.Seq, cp.Version, saved.Seq, saved.Version)
	}
	t := newStandbyTree(a.m)
	for _, n := range saved.Nodes {
		if n.Path != "/" && t.nodes[zkpath.Parent(n.Path)] == nil {
			return nil, fmt.Sprintf("saved index holds %s without its parent", n.Path)
		}
		t.add(n.Path, &tnode{mode: n.Mode, counter: n.Counter, aclSum: n.ACL})
	}
	t.undo = nil
	return t, ""
}

// saveIndex writes the index after a clean stop: every Multi in flight
// answered, nothing planned left in the tree, the standby's digest taken
// after the last write.
func (r *run) saveIndex() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.reapAll(ctx); err != nil {
		return fmt.Errorf("wait for the batches in flight: %w", err)
	}
	switch {
	case r.tree.partial:
		return errors.New("the stop came while the standby was being read")
	case r.stepping:
		return errors.New("the stop came while a message was applied in steps")
	}
	// What is left in the undo log was planned and not sent.
	r.tree.rollback(0)
	d, err := zkconn.TreeDigest(ctx, r.conn)
	if err != nil {
		return err
	}
	// The digest covers the checkpoint as this run left it, unless another
	// applier wrote since.
	cp, err := ReadCheckpoint(ctx, r.conn)
	if err != nil {
		return err
	}
	if cp.Version != r.committed.Version {
		return fmt.Errorf("the checkpoint moved under this applier (version %d, committed %d)", cp.Version, r.committed.Version)
	}
	saved := savedIndex{Format: indexFormat, Stream: r.a.cfg.Stream, Scope: r.a.scopeFingerprint(),
		Seq: cp.Seq, Version: cp.Version, Digest: d}
	saved.Nodes = make([]savedNode, 0, len(r.tree.nodes))
	for p, n := range r.tree.nodes {
		saved.Nodes = append(saved.Nodes, savedNode{Path: p, Mode: n.mode, Counter: n.counter, ACL: n.aclSum})
	}
	slices.SortFunc(saved.Nodes, func(a, b savedNode) int { return strings.Compare(a.Path, b.Path) })
	return writeIndexFile(r.a.cfg.IndexFile, &saved)
}

// writeIndexFile writes s to path atomically: a gzipped gob in a temporary
// file beside it, synced, then renamed over it.
func writeIndexFile(path string, s *savedIndex) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err := gob.NewEncoder(zw).Encode(s); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	return nil
}

func readIndexFile(path string) (*savedIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, err
	}
	var s savedIndex
	if err := gob.NewDecoder(zr).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}
