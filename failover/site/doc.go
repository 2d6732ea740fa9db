// Package site owns what each ensemble says about its own site: the site
// record with its role and epoch, and the election among a site's daemons. It
// is what every other part of failover builds on (the client follows records,
// the operations write them, the daemon runs what they say) and depends on
// go-zookeeper and zkdr's path layout only.
//
// # Site records and epochs
//
// Each ensemble holds its own record at RecordPath (/zkdr/site, never
// replicated), a JSON document:
//
//	{"site":"east","role":"active","epoch":1,"since":"2025-01-02T03:04:05.123456789Z",
//	 "changed_by":"initial_role","reason":"no site record existed"}
//
// role is active, standby or fenced. EnsureRecord creates the record from the
// config's initial_role only while there is none (active starts at epoch 1, the
// first journal lineage; standby at 0, never active); from then on the record
// rules. WriteRecord is a compare-and-set on the stat version read before, so of
// two concurrent writers one wins and the other gets ErrVersionConflict, and it
// refuses to lower the epoch (ErrEpochRegression). A promotion takes
// NextEpoch(all known records) = max + 1. ActiveSite says which record clients
// follow: the one that says active at the highest epoch of all. WatchRecord
// follows one ensemble's record through reconnects and session expiry.
//
// # Election
//
// With ha.election on, a site runs several daemons and Elect picks the one that
// leads: an ephemeral sequential node each under ElectionPath, the lowest
// leads, and Leadership.Lost says when a leader must stop.
package site
