package failover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktree"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

// SwitchoverOptions tune Switchover.
type SwitchoverOptions struct {
	// DryRun runs the preflight only.
	DryRun bool
	// MaxLag is the largest replication lag the preflight accepts; 0 takes
	// failover.max_lag_for_switchover from the config.
	MaxLag time.Duration
	// ConnectTimeout bounds reaching each ensemble.
	ConnectTimeout time.Duration
	// FlushTimeout bounds the wait for the fenced site's last heartbeat to be
	// applied on the standby; when it passes, the fence is undone.
	FlushTimeout time.Duration
	// VerifyTimeout bounds the wait for the old active site to follow the new
	// journal and the tree comparison.
	VerifyTimeout time.Duration
	// Progress, when set, is called on every poll of the standby's applier
	// while Switchover waits for the fenced site's last heartbeat ("flush"),
	// on Switchover's goroutine.
	Progress func(DrainProgress)
	Logger   hclog.Logger
}

// DefaultSwitchoverOptions returns the defaults.
func DefaultSwitchoverOptions() SwitchoverOptions {
	return SwitchoverOptions{ConnectTimeout: 15 * time.Second, FlushTimeout: time.Minute, VerifyTimeout: 5 * time.Minute}
}

// SwitchoverReport is what a switchover did, for people and (as JSON) for
// automation.
type SwitchoverReport struct {
	From          string `json:"from"` // the active site before
	To            string `json:"to"`   // the active site after
	PreviousEpoch uint64 `json:"previous_epoch"`
	Epoch         uint64 `json:"epoch"`
	DryRun        bool   `json:"dry_run"`
	// Lag is the standby's replication lag at the preflight.
	Lag Duration `json:"lag"`
	// FenceZxid is the zxid of the fence on the old active ensemble; the
	// standby applied a heartbeat at FlushedZxid >= FenceZxid before it was
	// promoted.
	FenceZxid   int64 `json:"fence_zxid"`
	FlushedZxid int64 `json:"flushed_zxid"`
	// WriteUnavailable is the time between the fence and the promotion, during
	// which no site takes writes (clients following HostProvider also need
	// their reconnect on top).
	WriteUnavailable Duration `json:"write_unavailable"`
	// RPO is 0: everything the old active site acknowledged before its fence
	// was applied on the new one before it took writes.
	RPO Duration `json:"rpo"`
	// Verified: the trees are equal up to what the new standby has applied;
	// InFlight counts differences explained by writes newer than its
	// watermark, Differences lists the others (at most 20).
	Verified    bool     `json:"verified"`
	Compared    int      `json:"compared"`
	InFlight    int      `json:"in_flight"`
	Differences []string `json:"differences,omitempty"`
	Steps       []Step   `json:"steps"`
	Took        Duration `json:"took"`
}

// sitePair is the two ensembles of a switchover, named by role.
type sitePair struct {
	activeName, standbyName string
	active, standby         *zk.Conn
}

// Switchover moves the active role to the standby site with no data loss
// (planned drill). It works from either site's config: it reaches both
// ensembles. Both daemons must be running.
//
//  1. preflight: both records readable, one site active and the other standby,
//     the standby following the active site's journal with lag under the limit
//     and no paused delete guard;
//  2. fence: the active record says fenced (clients following HostProvider leave,
//     no site is active); its daemon keeps the source running until a heartbeat
//     taken after the fence is published;
//  3. flush: wait until the standby applied that heartbeat; then it holds every
//     change the old active site made before the fence (RPO 0). If it does not
//     come in time, the fence is undone and the switchover fails;
//  4. promote: the standby's record says active at the next epoch; its daemon
//     starts the source, which publishes a snapshot first;
//  5. demote: the old active record says standby at that epoch; its daemon
//     applies the new journal, snapshot included: its tree already equals the
//     snapshot, so nothing changes and nothing is copied wholesale;
//  6. verify: once the old site applied a heartbeat of the new journal, both
//     trees are walked and compared (differences newer than its watermark are
//     writes in flight, not errors).
func Switchover(ctx context.Context, cfg SwitchoverConfig, opts SwitchoverOptions) (*SwitchoverReport, error) {
	started := time.Now()
	def := DefaultSwitchoverOptions()
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = def.ConnectTimeout
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = def.FlushTimeout
	}
	if opts.VerifyTimeout <= 0 {
		opts.VerifyTimeout = def.VerifyTimeout
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = cfg.MaxLag
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("switchover")
	rep := &SwitchoverReport{DryRun: opts.DryRun}
	st := &stepper{steps: &rep.Steps, log: log}
	st.begin()

	// Preflight.
	local, err := dialSiteZK(ctx, cfg.ZooKeeper, opts.ConnectTimeout, log)
	if err != nil {
		return rep, fmt.Errorf("%w: site %s unreachable: %w", ErrPreflight, cfg.Site, err)
	}
	defer local.Close()
	peer, err := dialSiteZK(ctx, cfg.PeerZooKeeper, opts.ConnectTimeout, log)
	if err != nil {
		return rep, fmt.Errorf("%w: site %s unreachable: %w", ErrPreflight, cfg.Peer, err)
	}
	defer peer.Close()
	localRec, _, err := site.ReadRecord(ctx, local)
	if err != nil {
		return rep, fmt.Errorf("%w: site %s: %w", ErrPreflight, cfg.Site, err)
	}
	peerRec, _, err := site.ReadRecord(ctx, peer)
	if err != nil {
		return rep, fmt.Errorf("%w: site %s: %w", ErrPreflight, cfg.Peer, err)
	}
	act, ok := site.ActiveSite(localRec, peerRec)
	if !ok {
		return rep, fmt.Errorf("%w: no site is active (%s: %s at %d, %s: %s at %d)", ErrPreflight,
			localRec.Site, localRec.Role, localRec.Epoch, peerRec.Site, peerRec.Role, peerRec.Epoch)
	}
	sp := sitePair{activeName: cfg.Site, standbyName: cfg.Peer, active: local, standby: peer}
	stbRec := peerRec
	if act.Site != cfg.Site {
		sp = sitePair{activeName: cfg.Peer, standbyName: cfg.Site, active: peer, standby: local}
		stbRec = localRec
	}
	rep.From, rep.To, rep.PreviousEpoch = sp.activeName, sp.standbyName, act.Epoch
	if stbRec.Role != site.RoleStandby {
		return rep, fmt.Errorf("%w: %s is %s, not standby", ErrPreflight, stbRec.Site, stbRec.Role)
	}
	cp, err := readCheckpoint(ctx, sp.standby)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrPreflight, err)
	}
	if cp.Resync != nil {
		return rep, fmt.Errorf("%w: %s is %s", ErrPreflight, sp.standbyName, cp.Resync)
	}
	if want := journal.StreamName(sp.activeName); cp.Stream != want {
		return rep, fmt.Errorf("%w: %s applies %q, not %q", ErrPreflight, sp.standbyName, cp.Stream, want)
	}
	if cp.WatermarkTime == 0 {
		return rep, fmt.Errorf("%w: %s has applied no heartbeat yet", ErrPreflight, sp.standbyName)
	}
	rep.Lag = Duration(max(0, time.Since(cp.WatermarkAt())))
	if time.Duration(rep.Lag) > opts.MaxLag {
		return rep, fmt.Errorf("%w: lag %s is over %s (failover.max_lag_for_switchover)", ErrPreflight, rep.Lag, opts.MaxLag)
	}
	if g, engaged, err := applier.ReadGuard(ctx, sp.standby); err == nil && engaged && g.State == applier.GuardPaused {
		return rep, fmt.Errorf("%w: the delete guard holds %s's applier (zkdr guard release)", ErrPreflight, sp.standbyName)
	}
	rep.Epoch = site.NextEpoch(localRec, peerRec, site.Record{Epoch: cp.Epoch})
	st.done("preflight", fmt.Sprintf("%s active at epoch %d, %s standby with lag %s", sp.activeName, act.Epoch, sp.standbyName, rep.Lag))
	if opts.DryRun {
		rep.Took = Duration(time.Since(started))
		return rep, nil
	}

	// Fence the active site.
	actRec, actVersion, err := site.ReadRecord(ctx, sp.active)
	if err != nil {
		return rep, err
	}
	fenced, fencedVersion, err := site.WriteRecord(ctx, sp.active, site.Record{
		Site: actRec.Site, Role: site.RoleFenced, Epoch: actRec.Epoch, ChangedBy: site.ChangedBySwitchover,
		Reason: fmt.Sprintf("switchover to %s", sp.standbyName),
	}, actVersion)
	if err != nil {
		return rep, fmt.Errorf("fence %s: %w", sp.activeName, err)
	}
	fenceAt := time.Now()
	if rep.FenceZxid, err = site.RecordZxid(ctx, sp.active); err != nil {
		return rep, fmt.Errorf("read the fence's zxid: %w", err)
	}
	st.done("fence", fmt.Sprintf("%s fenced at zxid %#x", sp.activeName, rep.FenceZxid))

	// Wait for the last heartbeat.
	if err := waitWatermark(ctx, sp.standby, rep.FenceZxid, opts.FlushTimeout, opts.Progress); err != nil {
		// Undo the fence: the old active site takes writes again.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, _, uerr := site.WriteRecord(uctx, sp.active, site.Record{
			Site: fenced.Site, Role: site.RoleActive, Epoch: fenced.Epoch, ChangedBy: site.ChangedBySwitchover,
			Reason: "switchover aborted: " + err.Error(),
		}, fencedVersion); uerr != nil {
			return rep, fmt.Errorf("%w; undoing the fence failed too (%s stays fenced): %w", err, sp.activeName, uerr)
		}
		return rep, fmt.Errorf("%w; the fence was undone, %s is active again", err, sp.activeName)
	}
	cp, err = readCheckpoint(ctx, sp.standby)
	if err != nil {
		return rep, err
	}
	rep.FlushedZxid = cp.WatermarkZxid
	st.done("flush", fmt.Sprintf("%s applied heartbeat %#x (sequence %d)", sp.standbyName, cp.WatermarkZxid, cp.Seq))

	// Promote the standby.
	stb, stbVersion, err := site.ReadRecord(ctx, sp.standby)
	if err != nil {
		return rep, err
	}
	rep.Epoch = max(rep.Epoch, site.NextEpoch(stb, fenced, site.Record{Epoch: cp.Epoch}))
	if _, _, err := site.WriteRecord(ctx, sp.standby, site.Record{
		Site: stb.Site, Role: site.RoleActive, Epoch: rep.Epoch, ChangedBy: site.ChangedBySwitchover,
		Reason: fmt.Sprintf("switchover from %s", sp.activeName),
	}, stbVersion); err != nil {
		return rep, fmt.Errorf("promote %s (%s stays fenced; run zkdr promote on %s or undo the fence): %w", sp.standbyName, sp.activeName, sp.standbyName, err)
	}
	rep.WriteUnavailable = Duration(time.Since(fenceAt))
	rep.RPO = 0
	st.done("promote", fmt.Sprintf("%s active at epoch %d", sp.standbyName, rep.Epoch))

	// Demote the old active site to standby of the new journal.
	if _, _, err := site.WriteRecord(ctx, sp.active, site.Record{
		Site: fenced.Site, Role: site.RoleStandby, Epoch: rep.Epoch, ChangedBy: site.ChangedBySwitchover,
		Reason: fmt.Sprintf("standby of %s after switchover", sp.standbyName),
	}, fencedVersion); err != nil {
		return rep, fmt.Errorf("make %s standby: %w", sp.activeName, err)
	}
	st.done("demote", fmt.Sprintf("%s standby at epoch %d", sp.activeName, rep.Epoch))

	// Verify.
	if err := verifySwitched(ctx, sp, rep, opts.VerifyTimeout, log); err != nil {
		rep.Took = Duration(time.Since(started))
		return rep, err
	}
	st.done("verify", fmt.Sprintf("%d nodes compared, %d in flight, %d differences", rep.Compared, rep.InFlight, len(rep.Differences)))
	rep.Took = Duration(time.Since(started))
	if !rep.Verified {
		return rep, fmt.Errorf("verification found %d differences: %v", len(rep.Differences), rep.Differences)
	}
	return rep, nil
}

// verifySwitched waits until the old active site (now standby) applied a
// heartbeat of the new journal, then compares the trees; it retries the
// comparison while differences remain that its watermark does not explain.
func verifySwitched(ctx context.Context, sp sitePair, rep *SwitchoverReport, timeout time.Duration, log hclog.Logger) error {
	newActive, newStandby := sp.standby, sp.active
	stream := journal.StreamName(sp.standbyName)
	deadline := time.Now().Add(timeout)
	for {
		cp, err := readCheckpoint(ctx, newStandby)
		if err == nil && cp.Stream == stream && cp.Epoch >= rep.Epoch && cp.WatermarkZxid > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("verify: %s does not follow %s after %s (checkpoint %s at %d, epoch %d)", sp.activeName, stream, timeout, cp.Stream, cp.Seq, cp.Epoch)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	for {
		res, err := CompareTrees(ctx, newActive, newStandby, func() int64 {
			cp, _ := readCheckpoint(ctx, newStandby)
			return cp.WatermarkZxid
		})
		if err == nil {
			rep.Compared, rep.InFlight, rep.Differences = res.Compared, res.InFlight, res.Differences
			rep.Verified = len(res.Differences) == 0
			if rep.Verified {
				return nil
			}
			log.Debug("verify: the trees differ, comparing again", "differences", res.Differences)
		} else {
			if errors.Is(err, zk.ErrNoAuth) {
				// Retrying cannot help: this identity may not read every node.
				return fmt.Errorf("verify: %w (give the config's zookeeper and peer blocks the superDigest identity)", err)
			}
			log.Debug("verify: compare failed, trying again", "error", err)
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			return nil
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// Comparison is the result of CompareTrees.
type Comparison struct {
	Compared int
	// InFlight counts differences explained by changes on the active site
	// newer than the standby's watermark.
	InFlight int
	// Differences are the others (at most 20), as "path: what".
	Differences []string
}

// CompareTrees compares the replicated trees of an active ensemble and its
// standby while writes may go on. It walks the active tree, then the standby's;
// each difference is then checked against the active node as it is now: one
// whose change on the active site is newer than the standby's watermark (the
// standby has not applied it yet) is in flight, not an error. watermark returns
// the standby's applied watermark (a zxid of the active ensemble), read after
// the walks.
func CompareTrees(ctx context.Context, active, standby *zk.Conn, watermark func() int64) (Comparison, error) {
	opts := zktree.Options{Skip: zkpath.AlwaysExcluded()}
	a, err := zktree.Walk(ctx, active, "/", opts)
	if err != nil {
		return Comparison{}, fmt.Errorf("walk the active site: %w", err)
	}
	b, err := zktree.Walk(ctx, standby, "/", opts)
	if err != nil {
		return Comparison{}, fmt.Errorf("walk the standby: %w", err)
	}
	diffs := zktree.Diff(a, b)
	wm := watermark()
	res := Comparison{Compared: len(a)}
	for _, d := range diffs {
		inFlight, err := newerThan(active, standby, d.Path, wm)
		if err != nil {
			return Comparison{}, err
		}
		if inFlight {
			res.InFlight++
			continue
		}
		if len(res.Differences) < 20 {
			res.Differences = append(res.Differences, d.String())
		} else {
			res.Differences[19] = "..."
		}
	}
	return res, nil
}

// newerThan tells whether the difference at p is explained by a change on the
// active site after the standby's watermark wm, or by the active node being
// already equal to the standby's again.
func newerThan(active, standby *zk.Conn, p string, wm int64) (bool, error) {
	ad, ast, aerr := active.Get(p)
	if aerr != nil && !errors.Is(aerr, zk.ErrNoNode) {
		return false, fmt.Errorf("read %s on the active site: %w", p, aerr)
	}
	if aerr == nil {
		if ast.Mzxid > wm || ast.Czxid > wm {
			return true, nil
		}
		sd, _, serr := standby.Get(p)
		if serr == nil && bytes.Equal(ad, sd) {
			return true, nil // changed back meanwhile; the walk saw another state
		}
		return false, nil
	}
	// Gone on the active site: in flight if it was deleted after the
	// watermark, which the parent's pzxid tells.
	parent := p[:max(1, bytes.LastIndexByte([]byte(p), '/'))]
	_, pst, perr := active.Get(parent)
	if perr == nil && pst.Pzxid > wm {
		return true, nil
	}
	if errors.Is(perr, zk.ErrNoNode) && parent != "/" {
		return newerThan(active, standby, parent, wm)
	}
	if _, _, serr := standby.Get(p); errors.Is(serr, zk.ErrNoNode) {
		return true, nil // gone on both now
	}
	return false, perr
}
