package configs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxFileFunc bounds what file() reads: it is meant for a credential, and a
// config that points it at something huge should fail, not eat memory.
const maxFileFunc = 1 << 20

// evalContext holds the functions a config may call. There are no variables.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunc(),
			"file": fileFunc(dir),
		},
	}
}

// envFunc is env("NAME") or env("NAME", "fallback"). An unset variable without
// a fallback is an error rather than "", so a missing credential fails at load
// time instead of as an authentication failure later.
func envFunc() function.Function {
	return function.New(&function.Spec{
		Description: "The value of an environment variable.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "fallback", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, fmt.Errorf("env takes a name and at most one fallback")
			}
			name := args[0].AsString()
			if v, ok := os.LookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("environment variable %s is not set", name)
		},
	})
}

// fileFunc is file("path"): the contents of a regular file, relative paths
// taken from the config file's directory, trailing newlines removed (secret
// files written by editors or mounted by orchestrators usually end in one).
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "The contents of a file, without trailing newlines.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, fmt.Errorf("empty path")
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			// Only regular files: a FIFO or a device would block or never end.
			fi, err := os.Stat(p)
			if err != nil {
				return cty.NilVal, err
			}
			if !fi.Mode().IsRegular() {
				return cty.NilVal, fmt.Errorf("%s is not a regular file", p)
			}
			f, err := os.Open(p)
			if err != nil {
				return cty.NilVal, err
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, maxFileFunc+1))
			if err != nil {
				return cty.NilVal, err
			}
			if len(b) > maxFileFunc {
				return cty.NilVal, fmt.Errorf("%s is larger than %d bytes", p, maxFileFunc)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not UTF-8 text", p)
			}
			return cty.StringVal(strings.TrimRight(string(b), "\r\n")), nil
		},
	})
}
