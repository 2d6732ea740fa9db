package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zkdr/zkdr/failover"
)

// TestDrainProgressLines: each wait of a promotion gets its own reporter, and
// its last line says where the applier ended against the target.
func TestDrainProgressLines(t *testing.T) {
	var buf bytes.Buffer
	dp := newDrainProgress(&buf)
	const fence = int64(0x1_0000_0100)
	for wm := fence - 100; wm <= fence; wm += 25 {
		dp.update(failover.DrainProgress{Step: "flush", AppliedSeq: 40, Watermark: wm, TargetZxid: fence, Done: wm >= fence})
	}
	for seq := uint64(500); seq <= 1000; seq += 100 {
		dp.update(failover.DrainProgress{Step: "drain", AppliedSeq: seq, TargetSeq: 1000, Done: seq == 1000})
	}
	dp.finish() // after Promote returns: nothing left to end
	got := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(got) != 2 ||
		!strings.HasPrefix(got[0], "flush to zxid 0x100000100: 100/100 txns in ") ||
		!strings.HasPrefix(got[1], "drain: 1000/1000 events in ") {
		t.Fatalf("lines:\n%s", buf.String())
	}

	// A drain that gives up: its line ends where the applier stopped.
	buf.Reset()
	dp.update(failover.DrainProgress{Step: "drain", AppliedSeq: 700, TargetSeq: 1000})
	dp.finish()
	if !strings.HasPrefix(buf.String(), "drain: 700/1000 events in ") {
		t.Fatalf("abandoned drain: %q", buf.String())
	}
}
