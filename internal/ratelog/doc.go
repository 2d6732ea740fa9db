// Package ratelog wraps an hclog.Logger so that a message repeated in a tight
// loop (a retry against an unreachable ensemble, a refused write on every
// batch) costs one line per window instead of thousands: the first occurrence
// passes, repeats within the window are counted, and when the window ends one
// line says "<message> (repeated N times in 10s)" with the last repeat's
// arguments. It works the same for text and JSON output, since it sits in
// front of the logger rather than in its formatter.
package ratelog
