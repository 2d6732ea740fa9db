// Package progress reports the progress of long operator commands (bootstrap,
// drain, replay, verify) on a writer, normally stderr.
//
// On a terminal a Reporter draws an animated bar (schollz/progressbar/v3). On
// anything else (a pipe, a file, a test buffer) it writes one plain line every
// few seconds and one at Finish, so logs collected by systemd or CI stay
// readable. It never does both. Progress never belongs on stdout when stdout
// carries --json output.
package progress
