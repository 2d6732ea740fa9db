package site

import "errors"

// Sentinel errors of package site. Callers test them with errors.Is.
var (
	// ErrNoRecord means the ensemble has no site record (/zkdr/site) yet.
	ErrNoRecord = errors.New("site: no site record")
	// ErrInvalidRecord means a site record could not be decoded or is not
	// well-formed (empty site, unknown role).
	ErrInvalidRecord = errors.New("site: invalid site record")
	// ErrVersionConflict means the site record changed since it was read: another
	// writer won the compare-and-set. Re-read and decide again.
	ErrVersionConflict = errors.New("site: site record changed concurrently")
	// ErrEpochRegression means a write would lower the epoch of a site record.
	ErrEpochRegression = errors.New("site: epoch regression")
	// ErrSiteMismatch means a site record names another site than the one
	// configured for the ensemble (a config that points at the wrong ensemble).
	ErrSiteMismatch = errors.New("site: site record names another site")
	// ErrNotActive means a site that must be the active one is not: a client
	// connection to a server of another site was refused, or a rejoin found
	// its peer not active.
	ErrNotActive = errors.New("site: site is not active")
)
