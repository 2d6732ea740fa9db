package zkpath

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"
)

// EphemeralPolicy says what the source does with ephemeral nodes under a prefix.
type EphemeralPolicy string

// Ephemeral policies.
const (
	// EphemeralSkip leaves ephemeral nodes out: they belong to sessions, which do not
	// move between ensembles.
	EphemeralSkip EphemeralPolicy = "skip"
	// EphemeralPersistent replicates ephemeral nodes; events carry ModeEphemeral and
	// the standby holds them as persistent nodes.
	EphemeralPersistent EphemeralPolicy = "persistent"
)

// EphemeralRule applies Policy to ephemeral nodes under Prefix; the longest
// matching prefix wins.
type EphemeralRule struct {
	Prefix string
	Policy EphemeralPolicy
}

// Scope selects the part of the tree that is replicated.
type Scope struct {
	// Include lists path prefixes that are replicated with their subtrees; empty
	// means "/".
	Include []string
	// Exclude lists path prefixes left out with their subtrees. /zookeeper and
	// /zkdr are always left out.
	Exclude []string
	// Ephemeral rules; ephemeral nodes matching none are skipped.
	Ephemeral []EphemeralRule
	// Modes declare container and TTL nodes, which ZooKeeper reports to
	// clients as persistent; the first rule matching a persistent node's path
	// gives its mode.
	Modes []ModeRule
}

// NodeMode is a node's mode as a ModeRule declares it. The source publishes
// it as the journal's mode of the same name.
type NodeMode string

// Node modes: a ModeRule declares ModeContainer or ModeTTL; ModeFor says
// ModePersistent where no rule matches.
const (
	ModePersistent NodeMode = "persistent"
	ModeContainer  NodeMode = "container"
	ModeTTL        NodeMode = "ttl"
)

// ModeRule gives the nodes whose whole path matches Pattern (path.Match
// syntax) the mode Mode (ModeContainer, or ModeTTL with TTL).
type ModeRule struct {
	Pattern string
	Mode    NodeMode
	TTL     time.Duration
}

// ModeFor returns the declared mode of a node at p that ZooKeeper reports as
// persistent: the first matching rule's, else ModePersistent. The ttl is in
// milliseconds, as journal.Event carries it.
func (s Scope) ModeFor(p string) (NodeMode, int64) {
	for _, r := range s.Modes {
		if ok, _ := path.Match(r.Pattern, p); ok {
			return r.Mode, r.TTL.Milliseconds()
		}
	}
	return ModePersistent, 0
}

// Validate checks that every prefix is an absolute, clean path and every policy known.
func (s Scope) Validate() error {
	check := func(field, p string) error {
		if p == "" || p[0] != '/' || path.Clean(p) != p {
			return fmt.Errorf("%w: scope %s %q is not an absolute clean path", ErrInvalidScope, field, p)
		}
		return nil
	}
	for _, p := range s.Include {
		if err := check("include", p); err != nil {
			return err
		}
	}
	for _, p := range s.Exclude {
		if err := check("exclude", p); err != nil {
			return err
		}
	}
	for _, r := range s.Ephemeral {
		if err := check("ephemeral prefix", r.Prefix); err != nil {
			return err
		}
		if r.Policy != EphemeralSkip && r.Policy != EphemeralPersistent {
			return fmt.Errorf("%w: ephemeral policy %q for %q (want %q or %q)", ErrInvalidScope, r.Policy, r.Prefix, EphemeralSkip, EphemeralPersistent)
		}
	}
	for _, r := range s.Modes {
		if _, err := path.Match(r.Pattern, "/"); err != nil || !strings.HasPrefix(r.Pattern, "/") {
			return fmt.Errorf("%w: mode pattern %q is not an absolute path pattern", ErrInvalidScope, r.Pattern)
		}
		switch {
		case r.Mode == ModeContainer && r.TTL == 0:
		case r.Mode == ModeTTL && r.TTL >= time.Millisecond:
		default:
			return fmt.Errorf("%w: mode rule %q: want a container, or a ttl of at least 1ms", ErrInvalidScope, r.Pattern)
		}
	}
	return nil
}

func (s Scope) excluded(p string) bool {
	if IsAlwaysExcluded(p) {
		return true
	}
	for _, e := range s.Exclude {
		if Under(p, e) {
			return true
		}
	}
	return false
}

// Contains reports whether path p is replicated.
func (s Scope) Contains(p string) bool {
	if s.excluded(p) {
		return false
	}
	if len(s.Include) == 0 {
		return true
	}
	for _, i := range s.Include {
		if Under(p, i) {
			return true
		}
	}
	return false
}

// Roots are the tops of the replicated subtrees: the include prefixes that are not
// below another one and not excluded, sorted.
func (s Scope) Roots() []string {
	inc := s.Include
	if len(inc) == 0 {
		inc = []string{"/"}
	}
	var roots []string
	for _, p := range inc {
		if s.excluded(p) {
			continue
		}
		nested := false
		for _, q := range inc {
			if q != p && Under(p, q) {
				nested = true
				break
			}
		}
		if !nested && !slices.Contains(roots, p) {
			roots = append(roots, p)
		}
	}
	sort.Strings(roots)
	return roots
}

// EphemeralPolicyFor is the policy for an ephemeral node at p.
func (s Scope) EphemeralPolicyFor(p string) EphemeralPolicy {
	best, policy := -1, EphemeralSkip
	for _, r := range s.Ephemeral {
		if Under(p, r.Prefix) && len(r.Prefix) > best {
			best, policy = len(r.Prefix), r.Policy
		}
	}
	return policy
}
