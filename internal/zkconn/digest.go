package zkconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
)

// digestInterval is how often, in zxids, ZooKeeper (3.6+) logs its tree
// digest: at every zxid that is a multiple of it, the last 1,024 kept.
const digestInterval = 128

// Digest is ZooKeeper's digest of its whole data tree at a zxid: a sum of
// a hash of every node's path, data and stat, kept up to date by the server
// with each transaction (zookeeper.digest.enabled, on by default since 3.6).
// Any change to the tree (a create, a delete, a setData, a setACL) changes it;
// opening and closing sessions and failed requests do not.
type Digest struct {
	Zxid  int64
	Value uint64
}

// TreeDigest returns the digest of the tree as the server conn is connected to
// holds it now: the first digest the server logs at or after its current zxid.
// Since the server logs one every 128 zxids, TreeDigest first spends the zxids
// up to the next one with requests that fail without changing anything
// (deleting zkpath.DigestProbe at a version no node has). A change made by
// anyone between the current zxid and the logged one is in the digest too.
//
// It needs the server's four-letter words srvr and hash (hash must be in
// 4lw.commands.whitelist, which holds only srvr by default); a server that
// refuses them, or keeps no digest, gives an error wrapping
// ErrDigestUnavailable.
func TreeDigest(ctx context.Context, conn *zk.Conn) (Digest, error) {
	// A follower may lag the leader: sync first, so the server's zxid read
	// next is at least that of every write committed before the call.
	if _, err := conn.Sync("/"); err != nil {
		return Digest{}, fmt.Errorf("sync before the digest: %w", err)
	}
	addr := conn.Server()
	if addr == "" {
		return Digest{}, fmt.Errorf("%w: not connected", ErrDigestUnavailable)
	}
	from, err := serverZxid(ctx, addr)
	if err != nil {
		return Digest{}, err
	}
	for round := 0; round < 4; round++ {
		log, err := digestLog(ctx, addr)
		if err != nil {
			return Digest{}, err
		}
		if d, ok := firstAtOrAfter(log, from); ok {
			return d, nil
		}
		now, err := serverZxid(ctx, addr)
		if err != nil {
			return Digest{}, err
		}
		if err := spendZxids(ctx, conn, int(digestInterval-now%digestInterval)); err != nil {
			return Digest{}, err
		}
	}
	return Digest{}, fmt.Errorf("%w: %s logged no digest at or after zxid %#x", ErrDigestUnavailable, addr, from)
}

// serverZxid reads the last zxid the server at addr has processed.
func serverZxid(ctx context.Context, addr string) (int64, error) {
	reply, err := FourLetter(ctx, addr, "srvr")
	if err != nil {
		return 0, fmt.Errorf("srvr %s: %w", addr, err)
	}
	s := SrvrField(reply, "Zxid")
	z, err := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: srvr %s has no zxid: %q", ErrDigestUnavailable, addr, firstLine(reply))
	}
	return z, nil
}

// digestLog reads the server's digest history: lines "zxid-in-hex: digest".
func digestLog(ctx context.Context, addr string) ([]Digest, error) {
	reply, err := FourLetter(ctx, addr, "hash")
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", addr, err)
	}
	var out []Digest
	sc := bufio.NewScanner(strings.NewReader(reply))
	for sc.Scan() {
		z, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		zxid, zerr := strconv.ParseInt(z, 16, 64)
		val, verr := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if zerr != nil || verr != nil {
			continue
		}
		out = append(out, Digest{Zxid: zxid, Value: val})
	}
	if len(out) == 0 && strings.Contains(reply, "whitelist") {
		return nil, fmt.Errorf("%w: %s refuses the hash command (add it to 4lw.commands.whitelist)", ErrDigestUnavailable, addr)
	}
	return out, nil
}

func firstAtOrAfter(log []Digest, zxid int64) (Digest, bool) {
	for _, d := range log {
		if d.Zxid >= zxid {
			return d, true
		}
	}
	return Digest{}, false
}

// spendZxids sends n requests that fail as transactions: each takes a zxid and
// changes nothing.
func spendZxids(ctx context.Context, conn *zk.Conn, n int) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := conn.Delete(zkpath.DigestProbe, -2)
			if errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNotEmpty) {
				err = nil
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spend zxids for a digest: %w", err)
	}
	return ctx.Err()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
