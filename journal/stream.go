package journal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the name of a site's journal stream, the same in the site's own
// domain and in the peer domain that mirrors it.
func StreamName(site string) string { return "ZKDR_" + site }

// SubjectName is the subject a site's journal events are published on.
func SubjectName(site string) string { return "zkdr." + site + ".journal" }

// SnapshotSubjectName is the subject of the same stream that carries the
// snapshot-begin and snapshot-end markers, each alone in its message. The
// markers are journal messages like any other (same sequence, same fencing,
// read in order by every reader); their own subject lets ListSnapshots read
// just them.
func SnapshotSubjectName(site string) string { return "zkdr." + site + ".snapshot" }

// subjectsCover reports whether a message on subject is stored by a stream
// with the given subjects (NATS wildcards: "*" one token, ">" the rest).
func subjectsCover(subjects []string, subject string) bool {
	want := strings.Split(subject, ".")
	for _, s := range subjects {
		have := strings.Split(s, ".")
		for i, tok := range have {
			if tok == ">" {
				if len(want) > i {
					return true
				}
				break
			}
			if i >= len(want) || (tok != "*" && tok != want[i]) {
				break
			}
			if i == len(have)-1 && len(have) == len(want) {
				return true
			}
		}
	}
	return false
}

// StreamConfig is how a site's journal stream is provisioned. The same limits
// apply to the mirror in the peer domain.
type StreamConfig struct {
	Site string
	// Replicas is the JetStream replication factor (1 for a single server, 3 for
	// a production cluster).
	Replicas int
	// MaxAge, MaxBytes and MaxMsgs bound retention; 0 means unlimited. A reader
	// whose next sequence was dropped gets ErrRetentionGap.
	MaxAge   time.Duration
	MaxBytes int64
	MaxMsgs  int64
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values to drop
	// a re-sent message. It must cover the appender's longest retry.
	DuplicateWindow time.Duration
}

// DefaultStreamConfig is a single-replica stream without retention limits and a
// two-minute duplicate window.
func DefaultStreamConfig(site string) StreamConfig {
	return StreamConfig{Site: site, Replicas: 1, DuplicateWindow: 2 * time.Minute}
}

// Validate reports the first setting that cannot be used.
func (c StreamConfig) Validate() error {
	switch {
	case c.Site == "" || strings.ContainsAny(c.Site, ". *>\t\r\n/\\"):
		return fmt.Errorf("journal: site %q must be a non-empty name without dots, spaces or wildcards", c.Site)
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("journal: replicas %d must be between 1 and 5", c.Replicas)
	case c.MaxAge < 0 || c.MaxBytes < 0 || c.MaxMsgs < 0:
		return errors.New("journal: retention limits must not be negative")
	case c.DuplicateWindow <= 0:
		return errors.New("journal: duplicate window must be positive")
	case c.MaxAge > 0 && c.DuplicateWindow > c.MaxAge:
		return fmt.Errorf("journal: duplicate window %s exceeds max age %s", c.DuplicateWindow, c.MaxAge)
	}
	return nil
}

func limit(v int64) int64 {
	if v == 0 {
		return -1
	}
	return v
}

// baseConfig holds what the origin stream and its mirror share. Deletes and
// purges are denied: the journal's contiguous sequence is what proves that no
// append was lost, so a hole punched in it by hand would read as data loss;
// retention is by limits only, and an operator who must drop messages edits the
// stream deliberately.
func (c StreamConfig) baseConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName(c.Site),
		Description: "zkdr journal of site " + c.Site,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxAge:      c.MaxAge,
		MaxBytes:    limit(c.MaxBytes),
		MaxMsgs:     limit(c.MaxMsgs),
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}
}

// EnsureStream creates the site's journal stream in the domain js talks to, or
// checks that the existing one has the same settings. It changes an existing
// stream in one way only: a stream provisioned before the snapshot subject
// existed (subject zkdr.<site>.journal alone, every other setting as wanted)
// gets that subject added, which changes nothing for its messages or readers.
// Any other difference is an error wrapping ErrStreamConfig that names each
// differing setting.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	want := cfg.baseConfig()
	want.Subjects = []string{SubjectName(cfg.Site), SnapshotSubjectName(cfg.Site)}
	want.Duplicates = cfg.DuplicateWindow
	s, err := ensure(ctx, js, want)
	if !errors.Is(err, ErrStreamConfig) {
		return s, err
	}
	s, lerr := js.Stream(ctx, want.Name)
	if lerr != nil {
		return nil, err
	}
	have := s.CachedInfo().Config
	old := want
	old.Subjects = []string{SubjectName(cfg.Site)}
	if len(compareConfig(have, old)) > 0 {
		return nil, err
	}
	have.Subjects = want.Subjects
	if _, uerr := js.UpdateStream(ctx, have); uerr != nil {
		return nil, fmt.Errorf("add subject %s to stream %s: %w", SnapshotSubjectName(cfg.Site), want.Name, uerr)
	}
	return ensure(ctx, js, want)
}

// EnsureMirror creates, in the peer domain jsPeer talks to, a stream of the same
// name that mirrors the origin site's journal from originDomain, so sequences
// mean the same on both sides. cfg.Site is the origin site; its limits apply
// to the mirror. Like EnsureStream it is idempotent and never changes an
// existing stream.
func EnsureMirror(ctx context.Context, jsPeer jetstream.JetStream, cfg StreamConfig, originDomain string) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if originDomain == "" {
		return nil, errors.New("journal: origin domain is required for a mirror")
	}
	want := cfg.baseConfig()
	want.Description = "zkdr mirror of the journal of site " + cfg.Site
	want.Mirror = &jetstream.StreamSource{
		Name:     StreamName(cfg.Site),
		External: &jetstream.ExternalStream{APIPrefix: apiPrefix(originDomain)},
	}
	return ensure(ctx, jsPeer, want)
}

func apiPrefix(domain string) string { return "$JS." + domain + ".API" }

func ensure(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Someone else created it meanwhile: compare with theirs.
			s, err = js.Stream(ctx, want.Name)
		} else if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", want.Name, err)
		} else {
			return s, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	if diffs := compareConfig(s.CachedInfo().Config, want); len(diffs) > 0 {
		return nil, fmt.Errorf("%w: stream %s exists with %s", ErrStreamConfig, want.Name, strings.Join(diffs, ", "))
	}
	return s, nil
}

// compareConfig names each setting zkdr relies on where have differs from want.
func compareConfig(have, want jetstream.StreamConfig) []string {
	var d []string
	diff := func(name string, h, w any) {
		if h != w {
			d = append(d, fmt.Sprintf("%s %v (want %v)", name, h, w))
		}
	}
	diff("subjects", strings.Join(have.Subjects, ","), strings.Join(want.Subjects, ","))
	diff("retention", have.Retention, want.Retention)
	diff("discard", have.Discard, want.Discard)
	diff("storage", have.Storage, want.Storage)
	diff("replicas", have.Replicas, want.Replicas)
	diff("max-age", have.MaxAge, want.MaxAge)
	diff("max-bytes", have.MaxBytes, want.MaxBytes)
	diff("max-msgs", have.MaxMsgs, want.MaxMsgs)
	diff("max-msgs-per-subject", have.MaxMsgsPerSubject, int64(-1))
	diff("deny-delete", have.DenyDelete, want.DenyDelete)
	diff("deny-purge", have.DenyPurge, want.DenyPurge)
	diff("sealed", have.Sealed, false)
	if want.Mirror == nil {
		diff("duplicate-window", have.Duplicates, want.Duplicates)
		if have.Mirror != nil {
			d = append(d, fmt.Sprintf("mirror of %s (want no mirror)", have.Mirror.Name))
		}
	} else {
		var name, prefix string
		if m := have.Mirror; m != nil {
			name = m.Name
			if m.External != nil {
				prefix = m.External.APIPrefix
			}
		}
		diff("mirror", name, want.Mirror.Name)
		diff("mirror-api-prefix", prefix, want.Mirror.External.APIPrefix)
	}
	return d
}
