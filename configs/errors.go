package configs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinels classify every *Error; test with errors.Is on what Load, Parse or
// Validate return.
var (
	// ErrSyntax is malformed HCL.
	ErrSyntax = errors.New("configs: syntax error")
	// ErrUnknownField is an argument or block the schema does not have.
	ErrUnknownField = errors.New("configs: unknown field")
	// ErrType is a value of the wrong type, or an expression that cannot be
	// evaluated (an unset env() variable, an unreadable file()).
	ErrType = errors.New("configs: wrong type")
	// ErrMissing is a required field or block that is not set.
	ErrMissing = errors.New("configs: missing required field")
	// ErrInvalid is a value of the right type that is not allowed (a bad
	// duration, role, path, address or range).
	ErrInvalid = errors.New("configs: invalid value")
	// ErrDuplicate is a block, peer, hook or list entry given twice.
	ErrDuplicate = errors.New("configs: duplicate")
)

// Error is one problem in a config, located as precisely as the source allows:
// "east.hcl:7:21: zookeeper.session_timeout: invalid duration ...". Messages
// never contain the value of a Secret field.
type Error struct {
	File   string // "" for a Config built in code
	Line   int    // 0 when unknown
	Column int
	// Field is the dotted path of the field, with block labels as elements
	// ("peer.west.zookeeper.servers", "failover.hook.dns.timeout"); "" for
	// syntax errors.
	Field   string
	Message string
	// Err is one of the package sentinels.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" || e.Line > 0 {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one config, in source order. Load, Parse and
// Validate return it (never empty) so a user sees all mistakes at once.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.Is and errors.As see each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// errOrNil sorts es by position and returns it, or nil when empty. A nil
// Errors must not become a non-nil error interface.
func (es Errors) errOrNil() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	return es
}
