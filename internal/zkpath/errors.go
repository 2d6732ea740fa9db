package zkpath

import "errors"

// ErrInvalidScope wraps every Scope and Mapper validation failure.
var ErrInvalidScope = errors.New("zkpath: invalid scope")
