package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/journal"
	"github.com/zkdr/zkdr/replicator/applier"
)

// Duration is a time.Duration that reads well in JSON reports ("1.5s").
type Duration time.Duration

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

func (d Duration) String() string { return time.Duration(d).String() }

// Step is one timed step of a promotion or switchover.
type Step struct {
	Name   string   `json:"name"`
	Took   Duration `json:"took"`
	Detail string   `json:"detail,omitempty"`
}

// stepper times consecutive steps.
type stepper struct {
	steps *[]Step
	start time.Time
	log   hclog.Logger
}

func (s *stepper) begin() { s.start = time.Now() }

func (s *stepper) done(name, detail string) {
	st := Step{Name: name, Took: Duration(time.Since(s.start)), Detail: detail}
	*s.steps = append(*s.steps, st)
	s.log.Info("step done", "step", name, "took", st.Took, "detail", detail)
	s.start = time.Now()
}

// PromoteOptions tune Promote.
type PromoteOptions struct {
	// Force promotes even when the peer is reachable and active (it is fenced
	// first).
	Force bool
	// PeerTimeout bounds the attempt to reach the peer's ensemble.
	PeerTimeout time.Duration
	// FlushTimeout bounds the wait for a fenced peer's last heartbeat.
	FlushTimeout time.Duration
	// DrainTimeout bounds the wait for the applier to reach the mirror's end.
	DrainTimeout time.Duration
	// SourceTimeout bounds the wait for this site's new source to publish at
	// the new epoch; 0 does not wait.
	SourceTimeout time.Duration
	// Progress, when set, is called on every poll of the applier while
	// Promote waits for it (the fenced peer's last heartbeat, then the drain),
	// on Promote's goroutine.
	Progress func(DrainProgress)
	Logger   hclog.Logger
}

// DrainProgress is one look at a standby's applier while a promotion or a
// switchover waits for it to reach a point. Waits can take minutes after a long
// outage, and an operator watching one wants to see it move.
type DrainProgress struct {
	// Step names the wait: "drain" (promote: apply the mirror to its end) or
	// "flush" (apply the fenced site's last heartbeat).
	Step string
	// AppliedSeq is the applier checkpoint's journal sequence. TargetSeq is the
	// sequence the drain must reach (the mirror's last); 0 in a flush, which
	// waits for a zxid whose sequence is not known before it arrives.
	AppliedSeq, TargetSeq uint64
	// Watermark is the applied watermark, a zxid of the active ensemble;
	// TargetZxid is the zxid a flush waits for (the fence's), 0 in a drain.
	Watermark, TargetZxid int64
	// Done is set on the report that finds the point reached.
	Done bool
}

// reportDrain calls f when it is set.
func reportDrain(f func(DrainProgress), p DrainProgress) {
	if f != nil {
		f(p)
	}
}

// DefaultPromoteOptions returns the defaults.
func DefaultPromoteOptions() PromoteOptions {
	return PromoteOptions{PeerTimeout: 5 * time.Second, FlushTimeout: 30 * time.Second,
		DrainTimeout: 10 * time.Minute, SourceTimeout: 2 * time.Minute}
}

// PromoteReport is what Promote did and what it may have cost.
type PromoteReport struct {
	Site          string    `json:"site"`
	Peer          string    `json:"peer"`
	Epoch         uint64    `json:"epoch"`
	PreviousRole  site.Role `json:"previous_role"`
	PreviousEpoch uint64    `json:"previous_epoch"`
	PeerReachable bool      `json:"peer_reachable"`
	PeerRole      site.Role `json:"peer_role,omitempty"` // before the promotion
	PeerFenced    bool      `json:"peer_fenced"`
	// PeerFlushed: the fenced peer's last heartbeat, taken after the fence, is
	// applied here, so nothing acknowledged by the peer before its fence is lost.
	PeerFlushed   bool   `json:"peer_flushed"`
	AppliedSeq    uint64 `json:"applied_seq"`
	MirrorLastSeq uint64 `json:"mirror_last_seq"`
	// LastAppliedZxid and LastAppliedTime are the watermark: every change of
	// the old primary with zxid <= LastAppliedZxid, so every write it
	// acknowledged before LastAppliedTime (its clock), is on this site.
	LastAppliedZxid int64     `json:"last_applied_zxid"`
	LastAppliedTime time.Time `json:"last_applied_time"`
	// LastJournalTime is when the newest journal message that reached this
	// site was stored: the old primary's last sign of life.
	LastJournalTime time.Time `json:"last_journal_time"`
	// DataLossWindow is the estimated span after LastAppliedTime in which
	// writes acknowledged by the old primary may be lost: up to its last sign
	// of life plus one heartbeat interval. 0 when the peer was fenced and
	// flushed.
	DataLossWindow Duration `json:"data_loss_window"`
	SourceStarted  bool     `json:"source_started"`
	Steps          []Step   `json:"steps"`
	Took           Duration `json:"took"`
}

// Promote makes cfg's site active after its peer failed (unplanned promotion).
// It needs the site's daemon running (applying the peer's journal; it switches
// to the source when the record changes) and reaches the local ZooKeeper and
// NATS.
//
// Order: if the peer's ensemble is reachable its record is fenced first (at the
// new epoch), so its daemon stops publishing after a last heartbeat and its
// clients leave; then the local mirror is applied to its end; then the local
// record says active at the new epoch. Epochs: the new epoch is one more than
// every epoch known here (both records, the applier's checkpoint, the mirror's
// newest message), so it is above the lineage just applied even when the peer
// is unreachable. The fenced peer record carries the new epoch as well: at that
// epoch exactly one record is active, so ActiveSite picks this site, and the
// peer can only be made active again by a later promotion.
func Promote(ctx context.Context, cfg PromoteConfig, opts PromoteOptions) (*PromoteReport, error) {
	started := time.Now()
	def := DefaultPromoteOptions()
	if opts.PeerTimeout <= 0 {
		opts.PeerTimeout = def.PeerTimeout
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = def.FlushTimeout
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = def.DrainTimeout
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("promote").With("site", cfg.Site)
	rep := &PromoteReport{Site: cfg.Site, Peer: cfg.Peer}
	st := &stepper{steps: &rep.Steps, log: log}
	st.begin()

	local, err := dialSiteZK(ctx, cfg.ZooKeeper, 30*time.Second, log)
	if err != nil {
		return nil, fmt.Errorf("connect to the local ensemble: %w", err)
	}
	defer local.Close()
	nc, err := cfg.ConnectNATS(log)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	own, ownVersion, err := site.EnsureRecord(ctx, local, cfg.Site, cfg.InitialRole)
	if err != nil {
		return nil, err
	}
	rep.PreviousRole, rep.PreviousEpoch = own.Role, own.Epoch

	peer, peerErr := dialSiteZK(ctx, cfg.PeerZooKeeper, opts.PeerTimeout, log)
	var (
		peerRec     site.Record
		peerVersion int32 = -1
	)
	if peerErr == nil {
		defer peer.Close()
		peerRec, peerVersion, peerErr = site.ReadRecord(ctx, peer)
	}
	rep.PeerReachable = peerErr == nil
	if rep.PeerReachable {
		rep.PeerRole = peerRec.Role
	} else {
		log.Warn("peer unreachable: it cannot be fenced now; it fences itself when it returns", "error", peerErr)
	}
	if own.Role == site.RoleActive && (!rep.PeerReachable || peerRec.Role != site.RoleActive || peerRec.Epoch < own.Epoch) {
		return rep, fmt.Errorf("%w: %s is active at epoch %d", ErrAlreadyActive, own.Site, own.Epoch)
	}
	if rep.PeerReachable && peerRec.Role == site.RoleActive && !opts.Force {
		return rep, fmt.Errorf("%w: %s is active at epoch %d; use zkdr switchover for a planned move, or --force", ErrPeerActive, peerRec.Site, peerRec.Epoch)
	}
	st.done("connect", fmt.Sprintf("peer reachable: %t", rep.PeerReachable))

	stream := journal.StreamName(cfg.Peer)
	cp, _ := readCheckpoint(ctx, local)
	if cp.Resync != nil && !opts.Force {
		// The tree is incomplete until the resync snapshot ends.
		return rep, fmt.Errorf("%w: %s is %s: its tree is incomplete until the snapshot is applied; wait, or --force", ErrPreflight, cfg.Site, cp.Resync)
	}
	info, _ := mirrorInfo(ctx, js, stream)
	records := []site.Record{own, {Epoch: cp.Epoch}, {Epoch: info.NewestEpoch}}
	if rep.PeerReachable {
		records = append(records, peerRec)
	}
	rep.Epoch = site.NextEpoch(records...)

	if rep.PeerReachable && peerRec.Role != site.RoleFenced || rep.PeerReachable && peerRec.Epoch < rep.Epoch {
		wasActive := peerRec.Role == site.RoleActive
		peerRec, _, err = site.WriteRecord(ctx, peer, site.Record{
			Site: peerRec.Site, Role: site.RoleFenced, Epoch: rep.Epoch, ChangedBy: site.ChangedByPromote,
			Reason: fmt.Sprintf("%s promoted at epoch %d", cfg.Site, rep.Epoch),
		}, peerVersion)
		if err != nil {
			return rep, fmt.Errorf("fence the peer: %w", err)
		}
		rep.PeerFenced = true
		st.done("fence-peer", fmt.Sprintf("%s fenced at epoch %d", peerRec.Site, rep.Epoch))
		if wasActive {
			// Its daemon publishes one more heartbeat after the fence: wait for it
			// here, so nothing it acknowledged before the fence is left behind.
			fz, err := site.RecordZxid(ctx, peer)
			if err == nil {
				err = waitWatermark(ctx, local, fz, opts.FlushTimeout, opts.Progress)
			}
			rep.PeerFlushed = err == nil
			if err != nil {
				log.Warn("the fenced peer's last heartbeat did not arrive; promoting with what is here", "error", err)
			}
			st.done("flush-peer", fmt.Sprintf("last heartbeat applied: %t", rep.PeerFlushed))
		}
	}

	// Drain: apply the mirror to its end.
	deadline := time.Now().Add(opts.DrainTimeout)
	for {
		info, err = mirrorInfo(ctx, js, stream)
		if err != nil {
			return rep, err
		}
		cp, err = readCheckpoint(ctx, local)
		if err != nil {
			return rep, err
		}
		done := cp.Seq >= info.LastSeq
		reportDrain(opts.Progress, DrainProgress{Step: "drain", AppliedSeq: cp.Seq, TargetSeq: info.LastSeq,
			Watermark: cp.WatermarkZxid, Done: done})
		if done {
			break
		}
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("%w: applied %d of %d after %s (is the daemon running and applying? zkdr status)", ErrDrainTimeout, cp.Seq, info.LastSeq, opts.DrainTimeout)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return rep, err
		}
	}
	rep.AppliedSeq, rep.MirrorLastSeq = cp.Seq, info.LastSeq
	rep.LastAppliedZxid, rep.LastAppliedTime = cp.WatermarkZxid, cp.WatermarkAt()
	rep.LastJournalTime = info.LastTime
	if rep.PeerFlushed {
		rep.DataLossWindow = 0
	} else {
		w := cfg.HeartbeatInterval
		if !rep.LastAppliedTime.IsZero() && rep.LastJournalTime.After(rep.LastAppliedTime) {
			w += rep.LastJournalTime.Sub(rep.LastAppliedTime)
		}
		rep.DataLossWindow = Duration(w)
	}
	st.done("drain", fmt.Sprintf("applied %d of %d, watermark %#x", cp.Seq, info.LastSeq, cp.WatermarkZxid))

	// Epochs only grow: take the max again in case the checkpoint moved on.
	rep.Epoch = max(rep.Epoch, site.NextEpoch(site.Record{Epoch: cp.Epoch}, site.Record{Epoch: info.NewestEpoch}))
	if _, _, err := site.WriteRecord(ctx, local, site.Record{
		Site: cfg.Site, Role: site.RoleActive, Epoch: rep.Epoch, ChangedBy: site.ChangedByPromote,
		Reason: fmt.Sprintf("promoted after applying %s to sequence %d", stream, cp.Seq),
	}, ownVersion); err != nil {
		return rep, fmt.Errorf("mark %s active: %w", cfg.Site, err)
	}
	st.done("activate", fmt.Sprintf("%s active at epoch %d", cfg.Site, rep.Epoch))

	if opts.SourceTimeout > 0 {
		err := waitSource(ctx, js, cfg.Site, rep.Epoch, opts.SourceTimeout)
		rep.SourceStarted = err == nil
		if err != nil {
			log.Warn("the new source has not published yet", "error", err)
		}
		st.done("source", fmt.Sprintf("publishing at epoch %d: %t", rep.Epoch, rep.SourceStarted))
	}
	rep.Took = Duration(time.Since(started))
	return rep, nil
}

// dialSiteZK connects to an ensemble with its configured credentials, giving up
// after timeout.
func dialSiteZK(ctx context.Context, z zkconn.Config, timeout time.Duration, log hclog.Logger) (*zk.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return zkconn.Dial(ctx, z, log.Named("zk"))
}

// readCheckpoint reads the applier checkpoint; zero when there is none.
func readCheckpoint(ctx context.Context, conn *zk.Conn) (applier.Checkpoint, error) {
	cp, err := applier.ReadCheckpoint(ctx, conn)
	if errors.Is(err, applier.ErrNoCheckpoint) {
		return applier.Checkpoint{}, nil
	}
	return cp, err
}

// mirrorInfo reads a journal stream's info; a stream that does not exist is
// empty.
func mirrorInfo(ctx context.Context, js jetstream.JetStream, stream string) (journal.JournalInfo, error) {
	info, err := journal.Info(ctx, js, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return journal.JournalInfo{Stream: stream}, nil
	}
	if err != nil {
		return journal.JournalInfo{Stream: stream}, err
	}
	return *info, nil
}

// waitWatermark waits until the standby's applied watermark reaches zxid (a
// zxid of the active ensemble), reporting each poll to progress (may be nil)
// as a "flush".
func waitWatermark(ctx context.Context, standby *zk.Conn, zxid int64, timeout time.Duration, progress func(DrainProgress)) error {
	deadline := time.Now().Add(timeout)
	for {
		cp, err := readCheckpoint(ctx, standby)
		if err == nil {
			done := cp.WatermarkZxid >= zxid
			reportDrain(progress, DrainProgress{Step: "flush", AppliedSeq: cp.Seq, Watermark: cp.WatermarkZxid,
				TargetZxid: zxid, Done: done})
			if done {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: watermark %#x, waiting for %#x after %s", ErrFlushTimeout, cp.WatermarkZxid, zxid, timeout)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitSource waits until site's journal holds a message of epoch.
func waitSource(ctx context.Context, js jetstream.JetStream, site string, epoch uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		info, err := mirrorInfo(ctx, js, journal.StreamName(site))
		if err == nil && info.NewestEpoch >= epoch {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no message of epoch %d in %s after %s", epoch, journal.StreamName(site), timeout)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
