package configs

import (
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// The decoder walks the native-syntax tree itself rather than going through
// gohcl: it must know the dotted field path of every value to put it in the
// error, accept ints or strings for sizes, and never echo a secret.
type decoder struct {
	file string
	dir  string
	ectx *hcl.EvalContext
	pos  map[string]hcl.Range
	errs Errors
}

func newDecoder(file, dir string) *decoder {
	return &decoder{
		file: file,
		dir:  dir,
		ectx: evalContext(dir),
		pos: map[string]hcl.Range{
			"": {Filename: file, Start: hcl.InitialPos, End: hcl.InitialPos},
		},
	}
}

func (d *decoder) fail(r hcl.Range, field string, sentinel error, format string, args ...any) {
	d.errs = append(d.errs, &Error{
		File:    d.file,
		Line:    r.Start.Line,
		Column:  r.Start.Column,
		Field:   field,
		Message: fmt.Sprintf(format, args...),
		Err:     sentinel,
	})
}

// diags turns HCL diagnostics into Errors for field.
func (d *decoder) diags(diags hcl.Diagnostics, fallback hcl.Range, field string, sentinel error) {
	for _, dg := range diags {
		if dg.Severity != hcl.DiagError {
			continue
		}
		r := fallback
		if dg.Subject != nil {
			r = *dg.Subject
		}
		msg := diagMessage(dg)
		if sentinel == ErrSyntax {
			msg = "syntax error: " + msg
		}
		d.fail(r, field, sentinel, "%s", msg)
	}
}

// diagMessage shortens an HCL diagnostic to one clause in the style of Go
// errors. HCL diagnostics describe expressions and types, never values, so
// nothing secret passes through here.
func diagMessage(dg *hcl.Diagnostic) string {
	msg := dg.Summary
	if dg.Detail != "" {
		// HCL's details are whole sentences that repeat the summary.
		msg = dg.Detail
	}
	msg = strings.TrimSuffix(strings.TrimSpace(msg), ".")
	r, n := utf8.DecodeRuneInString(msg)
	if n < len(msg) {
		next, _ := utf8.DecodeRuneInString(msg[n:])
		if unicode.IsUpper(r) && unicode.IsLower(next) {
			msg = string(unicode.ToLower(r)) + msg[n:]
		}
	}
	return msg
}

func (d *decoder) decodeFile(src []byte, c *Config) bool {
	f, diags := hclsyntax.ParseConfig(src, d.file, hcl.InitialPos)
	if diags.HasErrors() {
		d.diags(diags, d.pos[""], "", ErrSyntax)
		return false
	}
	root, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		d.fail(d.pos[""], "", ErrSyntax, "not an HCL native syntax body")
		return false
	}
	d.root(root, c)
	return len(d.errs) == 0
}

// body is one block's content, checked against the block's schema.
type body struct {
	d      *decoder
	b      *hclsyntax.Body
	prefix string
}

// open reports every argument and block of b that is not in the schema and
// returns a view of b for reading the known ones.
func (d *decoder) open(b *hclsyntax.Body, prefix string, attrs, blocks []string) *body {
	names := make([]string, 0, len(b.Attributes))
	for name := range b.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	bd := &body{d: d, b: b, prefix: prefix}
	for _, name := range names {
		a := b.Attributes[name]
		switch {
		case slices.Contains(attrs, name):
		case slices.Contains(blocks, name):
			d.fail(a.NameRange, bd.field(name), ErrType, "%s is a block: write %s { ... }", name, name)
		default:
			d.fail(a.NameRange, bd.field(name), ErrUnknownField, "unknown field%s", suggest(name, attrs, blocks))
		}
	}
	for _, blk := range b.Blocks {
		switch {
		case slices.Contains(blocks, blk.Type):
		case slices.Contains(attrs, blk.Type):
			d.fail(blk.TypeRange, bd.field(blk.Type), ErrType, "%s is an argument, not a block: write %s = ...", blk.Type, blk.Type)
		default:
			d.fail(blk.TypeRange, bd.field(blk.Type), ErrUnknownField, "unknown block%s", suggest(blk.Type, attrs, blocks))
		}
	}
	return bd
}

func (b *body) field(name string) string {
	if b.prefix == "" {
		return name
	}
	return b.prefix + "." + name
}

// eval returns the attribute's value, or false when it is absent, null or
// failed (failures are recorded). It records the value's position for Validate.
func (b *body) eval(name string) (cty.Value, *hclsyntax.Attribute, bool) {
	a, ok := b.b.Attributes[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	field := b.field(name)
	r := a.Expr.Range()
	b.d.pos[field] = r
	v, diags := a.Expr.Value(b.d.ectx)
	if diags.HasErrors() {
		b.d.diags(diags, r, field, ErrType)
		return cty.NilVal, a, false
	}
	if v.IsNull() {
		return cty.NilVal, a, false
	}
	if !v.IsWhollyKnown() {
		b.d.fail(r, field, ErrType, "value is not known")
		return cty.NilVal, a, false
	}
	return v, a, true
}

func (b *body) typeErr(a *hclsyntax.Attribute, name, want string, v cty.Value) {
	b.d.fail(a.Expr.Range(), b.field(name), ErrType, "want %s, got %s", want, v.Type().FriendlyName())
}

func (b *body) stringVal(name string) (string, bool) {
	v, a, ok := b.eval(name)
	if !ok {
		return "", false
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		b.typeErr(a, name, "a string", v)
		return "", false
	}
	return s.AsString(), true
}

func (b *body) str(name string, dst *string) {
	if s, ok := b.stringVal(name); ok {
		*dst = s
	}
}

func (b *body) secret(name string, dst *Secret) {
	if s, ok := b.stringVal(name); ok {
		*dst = NewSecret(s)
	}
}

// path reads a file path; a relative one is taken from the config's directory.
func (b *body) path(name string, dst *string) {
	if s, ok := b.stringVal(name); ok {
		if s != "" && !filepath.IsAbs(s) {
			s = filepath.Join(b.d.dir, s)
		}
		*dst = s
	}
}

func (b *body) list(name string, v cty.Value, a *hclsyntax.Attribute) ([]string, bool) {
	if !v.CanIterateElements() || v.Type().IsMapType() || v.Type().IsObjectType() {
		b.typeErr(a, name, "a list of strings", v)
		return nil, false
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		s, err := convert.Convert(e, cty.String)
		if err != nil || s.IsNull() {
			b.d.fail(a.Expr.Range(), b.field(name), ErrType, "want a list of strings, got an element of type %s", e.Type().FriendlyName())
			return nil, false
		}
		out = append(out, s.AsString())
	}
	return out, true
}

func (b *body) strList(name string, dst *[]string) {
	v, a, ok := b.eval(name)
	if !ok {
		return
	}
	if l, ok := b.list(name, v, a); ok {
		*dst = l
	}
}

// strOrList accepts one string or a list of strings.
func (b *body) strOrList(name string, dst *[]string) {
	v, a, ok := b.eval(name)
	if !ok {
		return
	}
	if v.Type().IsPrimitiveType() {
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			b.typeErr(a, name, "a string or a list of strings", v)
			return
		}
		*dst = []string{s.AsString()}
		return
	}
	if l, ok := b.list(name, v, a); ok {
		*dst = l
	}
}

func (b *body) duration(name string, dst *time.Duration) {
	s, ok := b.stringVal(name)
	if !ok {
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		a := b.b.Attributes[name]
		b.d.fail(a.Expr.Range(), b.field(name), ErrInvalid, "invalid duration %q: %v (write it as a string such as \"10s\", \"2m\", \"1h30m\")", s, err)
		return
	}
	*dst = v
}

func (b *body) integer(name string, dst *int64) {
	v, a, ok := b.eval(name)
	if !ok {
		return
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() {
		b.typeErr(a, name, "a whole number", v)
		return
	}
	i, ok := wholeNumber(n.AsBigFloat())
	if !ok {
		b.d.fail(a.Expr.Range(), b.field(name), ErrInvalid, "want a whole number, got %s", n.AsBigFloat().Text('g', -1))
		return
	}
	*dst = i
}

func (b *body) intField(name string, dst *int) {
	i := int64(*dst)
	b.integer(name, &i)
	if i > math.MaxInt32 || i < math.MinInt32 {
		b.d.fail(b.b.Attributes[name].Expr.Range(), b.field(name), ErrInvalid, "%d is out of range", i)
		return
	}
	*dst = int(i)
}

// byteSize accepts a whole number of bytes or a string such as "512MB".
func (b *body) byteSize(name string, dst *int64) {
	v, a, ok := b.eval(name)
	if !ok {
		return
	}
	if v.Type() == cty.Number {
		i, ok := wholeNumber(v.AsBigFloat())
		if !ok {
			b.d.fail(a.Expr.Range(), b.field(name), ErrInvalid, "want a whole number of bytes, got %s", v.AsBigFloat().Text('g', -1))
			return
		}
		*dst = i
		return
	}
	if v.Type() != cty.String {
		b.typeErr(a, name, "a byte size (a number or a string such as \"512MB\")", v)
		return
	}
	i, err := ParseByteSize(v.AsString())
	if err != nil {
		b.d.fail(a.Expr.Range(), b.field(name), ErrInvalid, "%v", err)
		return
	}
	*dst = i
}

func (b *body) byteSizeInt(name string, dst *int) {
	i := int64(*dst)
	b.byteSize(name, &i)
	if i > math.MaxInt32 {
		b.d.fail(b.b.Attributes[name].Expr.Range(), b.field(name), ErrInvalid, "%d bytes is out of range", i)
		return
	}
	*dst = int(i)
}

func (b *body) float(name string, dst *float64) {
	v, a, ok := b.eval(name)
	if !ok {
		return
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() {
		b.typeErr(a, name, "a number", v)
		return
	}
	f, _ := n.AsBigFloat().Float64()
	*dst = f
}

func (b *body) boolean(name string, dst *bool) {
	v, a, ok := b.eval(name)
	if !ok {
		return
	}
	bv, err := convert.Convert(v, cty.Bool)
	if err != nil || bv.IsNull() {
		b.typeErr(a, name, "true or false", v)
		return
	}
	*dst = bv.True()
}

func wholeNumber(f *big.Float) (int64, bool) {
	if !f.IsInt() {
		return 0, false
	}
	i, acc := f.Int64()
	return i, acc == big.Exact
}

// blocks returns the blocks of one type in source order, each checked to have
// exactly nLabels labels.
func (b *body) blocks(typ string, nLabels int) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, blk := range b.b.Blocks {
		if blk.Type != typ {
			continue
		}
		if len(blk.Labels) != nLabels {
			r := blk.TypeRange
			if len(blk.LabelRanges) > 0 {
				r = blk.LabelRanges[0]
			}
			if nLabels == 0 {
				b.d.fail(r, b.field(typ), ErrSyntax, "block takes no label: write %s { ... }", typ)
			} else {
				b.d.fail(r, b.field(typ), ErrSyntax, "block takes one label: write %s \"name\" { ... }", typ)
			}
			continue
		}
		out = append(out, blk)
	}
	return out
}

// single returns the one unlabelled block of a type, or nil; a second one is
// an error.
func (b *body) single(typ string) *hclsyntax.Block {
	blks := b.blocks(typ, 0)
	if len(blks) == 0 {
		return nil
	}
	for _, dup := range blks[1:] {
		b.d.fail(dup.TypeRange, b.field(typ), ErrDuplicate, "duplicate %s block (first at %s)", typ, shortPos(blks[0].TypeRange))
	}
	b.d.pos[b.field(typ)] = blks[0].DefRange()
	return blks[0]
}

func shortPos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

// suggest returns ` (did you mean "x"?)` for a close known name, or "".
func suggest(name string, lists ...[]string) string {
	// A suggestion must be closer than half the name, or "foo" turns into "log".
	best, bestDist := "", min(3, (len(name)+1)/2)
	for _, l := range lists {
		for _, cand := range l {
			if dist := editDistance(name, cand); dist < bestDist {
				best, bestDist = cand, dist
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
