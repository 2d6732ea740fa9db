// Package eventually waits in tests for a condition to hold: it polls, with a
// deadline generous enough for a loaded machine, instead of sleeping and hoping.
// It depends on no testing package of its own (TB is the part of testing.TB it
// uses), so importing it never links testing into a binary.
package eventually
