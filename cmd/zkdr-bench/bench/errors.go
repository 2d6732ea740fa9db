package bench

import "errors"

var (
	// ErrPeersMissing means the peers directory lacks zkbench or curator-mirror.
	ErrPeersMissing = errors.New("bench: peers directory is incomplete")
	// ErrNotEqual means a standby did not match the primary when it should have.
	ErrNotEqual = errors.New("bench: standby differs from the primary")
	// ErrToolOutput means a peer tool printed something the bench cannot read.
	ErrToolOutput = errors.New("bench: unexpected tool output")
	// ErrUnknownScenario names a scenario the bench does not have.
	ErrUnknownScenario = errors.New("bench: unknown scenario")
)
