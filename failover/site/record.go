package site

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkconn"
	"github.com/zkdr/zkdr/internal/zkpath"
)

// RecordPath is where each ensemble keeps its site record. /zkdr is per site and
// never replicated, so each ensemble's record speaks only for that ensemble.
const RecordPath = zkpath.SiteRecord

// Role is what a site does now.
type Role string

// Roles of a site.
const (
	// RoleActive: clients write here; the site's source publishes its journal.
	RoleActive Role = "active"
	// RoleStandby: the site applies the active site's journal.
	RoleStandby Role = "standby"
	// RoleFenced: the site must not take writes nor publish; clients stay away.
	RoleFenced Role = "fenced"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	return r == RoleActive || r == RoleStandby || r == RoleFenced
}

// Record is the JSON document at RecordPath.
type Record struct {
	Site      string    `json:"site"`
	Role      Role      `json:"role"`
	Epoch     uint64    `json:"epoch"`
	Since     time.Time `json:"since"` // RFC3339Nano in JSON
	ChangedBy string    `json:"changed_by"`
	Reason    string    `json:"reason"`
}

// Who wrote a record (Record.ChangedBy), besides "initial_role". The daemon
// tells a switchover's fence, which the switchover itself resolves, from the
// fences that need a rejoin.
const (
	ChangedByPromote    = "promote"
	ChangedBySwitchover = "switchover"
	ChangedByRejoin     = "rejoin"
)

// Validate reports a record that must not be stored.
func (r Record) Validate() error {
	if r.Site == "" {
		return fmt.Errorf("%w: empty site", ErrInvalidRecord)
	}
	if !r.Role.Valid() {
		return fmt.Errorf("%w: unknown role %q", ErrInvalidRecord, r.Role)
	}
	return nil
}

// RecordConn is the part of *zk.Conn that site records need.
type RecordConn interface {
	Get(path string) ([]byte, *zk.Stat, error)
	GetW(path string) ([]byte, *zk.Stat, <-chan zk.Event, error)
	ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error)
	Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	Set(path string, data []byte, version int32) (*zk.Stat, error)
}

var _ RecordConn = (*zk.Conn)(nil)

// ReadRecord reads the ensemble's site record and its stat version, the version a
// following WriteRecord must name. It returns ErrNoRecord when there is none.
func ReadRecord(ctx context.Context, conn RecordConn) (Record, int32, error) {
	var (
		data []byte
		stat *zk.Stat
	)
	err := zkconn.Do(ctx, func() (err error) { data, stat, err = conn.Get(RecordPath); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return Record{}, -1, ErrNoRecord
	}
	if err != nil {
		return Record{}, -1, fmt.Errorf("read site record: %w", err)
	}
	rec, err := decodeRecord(data)
	if err != nil {
		return Record{}, -1, err
	}
	return rec, stat.Version, nil
}

func decodeRecord(data []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	if err := rec.Validate(); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// InitialEpoch is the epoch EnsureRecord gives a new record: 1 for an active
// site, whose journal starts the first lineage, and 0 for a standby, which has
// never been active. The first promotion then takes NextEpoch = 2.
func InitialEpoch(role Role) uint64 {
	if role == RoleActive {
		return 1
	}
	return 0
}

// EnsureRecord returns the ensemble's site record, creating it first if there is
// none. initialRole (active or standby) is used only to create it: once a record
// exists, the record rules and initialRole is ignored. A record that names another
// site is refused with ErrSiteMismatch. Two concurrent callers agree on whichever
// record was created first.
func EnsureRecord(ctx context.Context, conn RecordConn, site string, initialRole Role) (Record, int32, error) {
	rec, version, err := ReadRecord(ctx, conn)
	if err == nil {
		if rec.Site != site {
			return Record{}, -1, fmt.Errorf("%w: record says %q, configured %q", ErrSiteMismatch, rec.Site, site)
		}
		return rec, version, nil
	}
	if !errors.Is(err, ErrNoRecord) {
		return Record{}, -1, err
	}
	if initialRole != RoleActive && initialRole != RoleStandby {
		return Record{}, -1, fmt.Errorf("%w: initial role must be active or standby, got %q", ErrInvalidRecord, initialRole)
	}
	rec = Record{
		Site:      site,
		Role:      initialRole,
		Epoch:     InitialEpoch(initialRole),
		Since:     time.Now().UTC(),
		ChangedBy: "initial_role",
		Reason:    "no site record existed",
	}
	if err := rec.Validate(); err != nil {
		return Record{}, -1, err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return Record{}, -1, fmt.Errorf("encode site record: %w", err)
	}
	acl := zk.WorldACL(zk.PermAll)
	err = zkconn.Do(ctx, func() error {
		_, err := conn.Create(path.Dir(RecordPath), nil, 0, acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		_, err = conn.Create(RecordPath, data, 0, acl)
		return err
	})
	switch {
	case errors.Is(err, zk.ErrNodeExists):
		// Someone else created it between our read and create: theirs rules.
		return EnsureRecord(ctx, conn, site, initialRole)
	case err != nil:
		return Record{}, -1, fmt.Errorf("create site record: %w", err)
	}
	return rec, 0, nil
}

// WriteRecord replaces the site record if its stat version still is version (as
// returned by ReadRecord, EnsureRecord or a previous WriteRecord), so of two
// concurrent writers that read the same version only one wins; the other gets
// ErrVersionConflict. A record whose epoch is lower than the stored one is refused
// with ErrEpochRegression, one that names another site with ErrSiteMismatch. A
// zero Since is set to now. It returns the record as written and its new version.
//
// If ctx ends while the write is in flight the outcome is unknown: re-read.
func WriteRecord(ctx context.Context, conn RecordConn, rec Record, version int32) (Record, int32, error) {
	if version < 0 {
		return Record{}, -1, fmt.Errorf("write site record: version %d: a compare-and-set needs the version read", version)
	}
	if rec.Since.IsZero() {
		rec.Since = time.Now().UTC()
	}
	if err := rec.Validate(); err != nil {
		return Record{}, -1, err
	}
	cur, curVersion, err := ReadRecord(ctx, conn)
	if err != nil {
		return Record{}, -1, err
	}
	switch {
	case curVersion != version:
		return Record{}, -1, fmt.Errorf("%w: read version %d, now %d", ErrVersionConflict, version, curVersion)
	case cur.Site != rec.Site:
		return Record{}, -1, fmt.Errorf("%w: record says %q, writing %q", ErrSiteMismatch, cur.Site, rec.Site)
	case rec.Epoch < cur.Epoch:
		return Record{}, -1, fmt.Errorf("%w: stored epoch %d, writing %d", ErrEpochRegression, cur.Epoch, rec.Epoch)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return Record{}, -1, fmt.Errorf("encode site record: %w", err)
	}
	// The version check makes the epoch check above safe: if anyone wrote since
	// our read, the set fails instead of overwriting what we did not see. The
	// set is waited for even when ctx ends meanwhile: a caller told "canceled"
	// could not know whether the record changed, and the set's own watch
	// notification is often what cancels it (go-zookeeper answers every call,
	// with an error when the connection is lost).
	stat, err := conn.Set(RecordPath, data, version)
	switch {
	case errors.Is(err, zk.ErrBadVersion):
		return Record{}, -1, fmt.Errorf("%w: version %d is gone", ErrVersionConflict, version)
	case errors.Is(err, zk.ErrNoNode):
		return Record{}, -1, ErrNoRecord
	case err != nil:
		return Record{}, -1, fmt.Errorf("write site record: %w", err)
	}
	return rec, stat.Version, nil
}

// NextEpoch is the epoch a promotion takes: one more than the highest epoch of
// the records it knows.
func NextEpoch(records ...Record) uint64 {
	var top uint64
	for _, r := range records {
		top = max(top, r.Epoch)
	}
	return top + 1
}

// ActiveSite picks the site clients belong to: the record that says active at
// the highest epoch among all records given. There is none (ok false) when the
// highest-epoch record is fenced or standby (an active record at a lower epoch
// was superseded and must not take clients back), or when two sites claim to be
// active at that epoch.
func ActiveSite(records ...Record) (Record, bool) {
	var (
		top    uint64
		active []Record
	)
	for _, r := range records {
		switch {
		case r.Epoch > top:
			top, active = r.Epoch, nil
			if r.Role == RoleActive {
				active = append(active, r)
			}
		case r.Epoch == top && r.Role == RoleActive:
			active = append(active, r)
		}
	}
	if len(active) != 1 {
		return Record{}, false
	}
	return active[0], true
}

// RecordZxid is the zxid of the last write of the ensemble's site record (0
// when there is none): a fence took effect at that zxid, so a heartbeat of the
// site at or past it was taken after the fence.
func RecordZxid(ctx context.Context, conn *zk.Conn) (int64, error) {
	var z int64
	err := zkconn.Do(ctx, func() error {
		_, st, err := conn.Exists(RecordPath)
		if err == nil && st != nil {
			z = st.Mzxid
		}
		return err
	})
	return z, err
}
