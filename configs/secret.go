package configs

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Redacted is what a Secret prints as, whatever the verb or encoder.
const Redacted = "[redacted]"

// Secret holds a credential. It prints as "[redacted]" through fmt (every verb,
// %#v included), encoding/json, encoding.TextMarshaler and log/slog, so a
// Config can be logged or dumped whole; only Reveal returns the value. The value
// sits in an unexported field so reflection-based encoders cannot reach it.
type Secret struct {
	value string
}

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the credential. Call it only where the credential is handed
// to a client library.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s.value != "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return "configs.Secret(" + strconv.Quote(Redacted) + ")" }

// Format implements fmt.Formatter, so no verb (%x, %q, %d...) reaches the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(Redacted))
	default:
		_, _ = io.WriteString(f, Redacted)
	}
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(Redacted)), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
