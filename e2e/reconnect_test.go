package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/configs"
	"github.com/zkdr/zkdr/internal/zkserver"
)

// Scenario: the active site's ZooKeeper is a three-server ensemble and the
// server holding the source's watching session is killed (kill -9) while a
// writer creates, sets and deletes nodes. The session's timeout (10 s) is
// longer than a reconnect takes, so the client moves to another server within
// the same session; the server it reaches re-adds its watches but cannot
// replay what changed while it was away. Nothing may be missed: a heartbeat
// written after the move is applied on the standby, and then the standby
// holds every create acknowledged before it (guarantee 3); after the server
// is back and the writes stop, the trees are equal and the fault suite's
// proof of no gap and no duplicate holds (guarantees 1 and 4).
func TestSourceReconnectsToAnotherServer(t *testing.T) {
	// Anti-entropy passes watch east's heartbeat too, from the standby's
	// daemon; off here, so that the source's session is the only one that
	// watches it and can be told apart (see watchingSession).
	p, _ := newLayoutPair(t, siteLayout{eastZK: 3}, func(site string, c *configs.Config) { c.AntiEntropy.Interval = 0 })
	ens := p.zk["east"]
	east, west := p.conn["east"], p.conn["west"]
	p.start("east")
	p.start("west")
	mustCreate(t, east, "/reconnect-mark", nil, 0, nil)
	l := startFaultLoad(t, p, "/reconnect")
	waitFor(t, 2*time.Minute, "west to apply the load", func() bool { return readCheckpoint(t, west).Seq > 50 })
	l.waitWrites(t, 50, "before the kill")
	waitFor(t, 2*time.Minute, "west's watermark", func() bool { return readCheckpoint(t, west).WatermarkZxid != 0 })

	own := map[int64]bool{east.SessionID(): true}
	var src watchSession
	waitFor(t, time.Minute, "the source's watching session on one of east's servers", func() bool {
		var ok bool
		src, ok = watchingSession(ens, own)
		return ok
	})
	mode, _ := ens.Mode(src.server)
	sampler := startWatermarkSampler(west)
	defer sampler.stop()
	if err := ens.Kill(src.server); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	t.Logf("killed server %d (%s, %s), which held the source's session 0x%x watching %d paths",
		src.server, mode, ens.Servers()[src.server], src.session, src.paths)

	// Where the session went: the same session id watching on another
	// server is a reconnect within the session; a new one means it expired.
	// Logged, not asserted: what the guarantees say is checked below either way.
	var moved watchSession
	var movedAfter time.Duration
	if poll(30*time.Second, func() bool {
		var ok bool
		moved, ok = watchingSession(ens, own)
		return ok && moved.server != src.server
	}) {
		movedAfter = time.Since(killedAt)
		how := "within the same session"
		if moved.session != src.session {
			how = fmt.Sprintf("in a new session 0x%x (the old one expired)", moved.session)
		}
		t.Logf("the source's watches are on server %d %s, seen %s after the kill", moved.server, how, movedAfter.Round(time.Millisecond))
	} else {
		t.Logf("the source's watches were not seen on another server within 30 s of the kill")
	}

	// passMark writes a mark, waits until west applied a heartbeat newer than
	// it, and then checks that west holds every create acknowledged before
	// the mark was written (guarantee 3). It returns how long after the kill
	// that heartbeat was seen applied.
	passMark := func(when string) time.Duration {
		t.Helper()
		mark := setMark(t, east, "/reconnect-mark")
		acked, _ := l.acked.snapshot()
		waitFor(t, 2*time.Minute, fmt.Sprintf("a heartbeat newer than the mark (zxid > 0x%x) applied on west %s", mark, when), func() bool {
			cp, ok := tryCheckpoint(west)
			return ok && cp.WatermarkZxid > mark
		})
		at := time.Since(killedAt)
		if miss := missingOn(t, west, acked); len(miss) > 0 {
			t.Fatalf("%s, west applied a watermark past zxid 0x%x, but %d of the %d creates acknowledged before it are missing, the first %s (acknowledged %s after the kill)",
				when, mark, len(miss), len(acked), miss[0].path, miss[0].at.Sub(killedAt).Round(time.Millisecond))
		}
		return at
	}
	// The watermark moves again after the reconnect...
	resumed := passMark("after the reconnect")
	// ...and keeps moving while writes go on with the server down: a bounded
	// count of acknowledged creates (at the writer's pace, about ten seconds)
	// beside the counter sets and the mixed creates, sets and deletes.
	const downWrites = 600
	l.waitWrites(t, downWrites, "with the source's server down")
	later := passMark("with the server still down")
	sampler.stop()
	around := sampler.stats(time.Time{}, time.Now())

	downFor := time.Since(killedAt)
	if err := ens.Restart(src.server); err != nil {
		t.Fatal(err)
	}
	l.waitWrites(t, 100, "after the restart")
	rep := p.verifyLoad(l)
	expiries := "unknown"
	if st := p.daemons["east"].d.Status(); st.Source != nil {
		expiries = fmt.Sprint(st.Source.SessionExpiries)
	}
	t.Logf("source's server %d down for %s; west applied a heartbeat newer than a mark written after the kill %s after the kill, and one newer than a mark "+
		"written %d creates later %s after it; west's watermark from just before the kill until then, %s; source session expiries %s; %s",
		src.server, downFor.Round(time.Millisecond), resumed.Round(time.Millisecond), downWrites, later.Round(time.Millisecond), around, expiries, rep)
}

// setMark sets a node no load writes and returns the zxid of the write,
// retrying while the client reconnects (a retried set may land twice: a
// mark only needs one zxid after the moment it was asked for).
func setMark(t *testing.T, c *zk.Conn, path string) int64 {
	t.Helper()
	var zxid int64
	waitFor(t, time.Minute, "a write of "+path, func() bool {
		st, err := c.Set(path, []byte(time.Now().Format(time.RFC3339Nano)), -1)
		if err != nil {
			return false
		}
		zxid = st.Mzxid
		return true
	})
	return zxid
}

// watchSession is a session that watches the heartbeat on one server.
type watchSession struct {
	server  int   // index in the ensemble
	session int64 // session id
	paths   int   // how many paths it watches there
}

// watchingSession finds the source's watching session: the session, other
// than the test's own, that watches /zkdr/heartbeat or one of its ancestors
// (a persistent recursive watch on "/" covers it), and of those the one with
// the most watched paths.
//
// Why this way: the source writes the heartbeat and watches it on its
// watching session (guarantee 3), whatever else it watches and however (one
// watch per node, or one recursive watch per root), and a server lists the
// watches of the sessions connected to it, by path, with the four-letter
// word wchp (the harness allows every word). That names the server holding
// the session without knowing the daemon's internals, and without guessing
// from TCP connections, which every session of the process (the test's
// clients, the daemon's other sessions) has too. Other watchers of the
// heartbeat: anti-entropy passes of the standby's daemon (turned off by the
// test) and the standby's own source on its own ensemble (not this one).
func watchingSession(c *zkserver.Cluster, own map[int64]bool) (watchSession, bool) {
	var best watchSession
	found := false
	for i, addr := range c.Servers() {
		if !c.Running(i) {
			continue
		}
		out, err := fourLetterWord(addr, "wchp")
		if err != nil {
			continue
		}
		watched, counts := parseWchp(out)
		for sid := range watched {
			if own[sid] {
				continue
			}
			if s := (watchSession{server: i, session: sid, paths: counts[sid]}); !found || s.paths > best.paths {
				best, found = s, true
			}
		}
	}
	return best, found
}

// parseWchp reads a wchp reply (a path, then a tab-indented session id per
// watcher) into the sessions that watch /zkdr/heartbeat or an ancestor of it,
// and how many paths each session watches.
func parseWchp(out string) (heartbeat map[int64]bool, paths map[int64]int) {
	heartbeat, paths = map[int64]bool{}, map[int64]int{}
	covers := func(p string) bool { return p == "/" || p == "/zkdr" || p == "/zkdr/heartbeat" }
	var path string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "\t") {
			path = strings.TrimSpace(line)
			continue
		}
		var sid int64
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "0x%x", &sid); err != nil {
			continue
		}
		paths[sid]++
		if covers(path) {
			heartbeat[sid] = true
		}
	}
	return heartbeat, paths
}

// fourLetterWord sends a ZooKeeper four-letter word to addr and returns the
// reply.
func fourLetterWord(addr, word string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil && len(b) == 0 {
		return "", err
	}
	if strings.Contains(string(b), "not currently serving requests") {
		return "", errors.New(strings.TrimSpace(string(b)))
	}
	return string(b), nil
}
