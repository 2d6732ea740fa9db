package source

import (
	"context"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
)

// maxACLRechecksPerSecond caps the periodic ACL re-read so a big tree with a short
// interval cannot load the active ensemble: a pass then takes longer.
const maxACLRechecksPerSecond = 1000

// aclRecheckLoop re-reads every ACL once per ACLRecheckInterval, spread evenly
// over the interval, because ZooKeeper fires no watch on setACL. A read whose
// aversion is newer than the index's becomes an acl event.
func (s *Source) aclRecheckLoop(ctx context.Context) error {
	return s.aclRecheckPasses(ctx, s.recheckACL)
}

// aclRecheckPasses calls recheck for every indexed path once per
// ACLRecheckInterval, paced as aclRecheckLoop says, until ctx ends.
func (s *Source) aclRecheckPasses(ctx context.Context, recheck func(context.Context, string) error) error {
	if s.cfg.ACLRecheckInterval == 0 {
		return nil
	}
	if err := s.waitBootstrapped(ctx); err != nil {
		return nil
	}
	for {
		pass := time.Now()
		paths := s.idx.paths()
		every := time.Second / maxACLRechecksPerSecond
		if len(paths) > 0 {
			every = max(every, s.cfg.ACLRecheckInterval/time.Duration(len(paths)))
		}
		t := time.NewTicker(every)
		for _, p := range paths {
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			if err := recheck(ctx, p); err != nil {
				t.Stop()
				return ignoreDone(ctx, err)
			}
		}
		t.Stop()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.ACLRecheckInterval - time.Since(pass)):
		}
	}
}

func (s *Source) recheckACL(ctx context.Context, p string) error {
	e, ok := s.idx.get(p)
	if !ok || e.skipped {
		return nil
	}
	acl, st, err := s.getACL(ctx, s.conn, p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Czxid != e.czxid || st.Aversion <= e.aversion {
		return nil
	}
	sl, err := s.reserve(ctx)
	if err != nil {
		return err
	}
	sl.fill(result{kind: resACL, nodes: []nodeRead{{path: p, exists: true, acl: acl, aclStat: *st}}})
	return nil
}
