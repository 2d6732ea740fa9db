package applier

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/journal"
)

// guardSim plans a journal history the way the applier does (a dry run at
// each message that deletes, then the plan) against an in-memory standby tree,
// releasing every hold at once, and records where the guard held. Restarts at
// chosen sequences carry only what a real restart carries: the tree (the
// standby) and the checkpoint, through its JSON.
type guardSim struct {
	rule  guardRule
	tree  *standbyTree
	cp    Checkpoint
	holds []string
}

func newGuardSim(rule guardRule) *guardSim {
	tree := newStandbyTree(zkpath.Mapper{})
	tree.add("/", &tnode{})
	tree.commit()
	return &guardSim{rule: rule, tree: tree}
}

func (g *guardSim) run(t *testing.T, msgs []journal.Message, restartAt map[uint64]bool) {
	t.Helper()
	var r *run
	start := func() {
		b, err := json.Marshal(g.cp)
		if err != nil {
			t.Fatal(err)
		}
		var cp Checkpoint
		if err := json.Unmarshal(b, &cp); err != nil {
			t.Fatal(err)
		}
		r = &run{a: &Applier{}, tree: g.tree, pl: &planner{tree: g.tree, m: zkpath.Mapper{}, cp: cp, guard: g.rule}}
	}
	start()
	for i, msg := range msgs {
		if restartAt[msg.Seq] {
			start()
		}
		if deletes(msg) && msg.Seq > r.judgedThrough {
			v, err := r.judge(msgs[i:])
			if err != nil {
				t.Fatal(err)
			}
			if v != nil {
				g.holds = append(g.holds, fmt.Sprintf("hold at %d: %d deletes, shrink %d of %d", msg.Seq, v.group.Deletes, v.shrink, v.peak))
				r.pl.window().release(g.rule.window)
			}
		}
		if _, err := r.pl.plan(msg, false); err != nil {
			t.Fatalf("plan %d: %v", msg.Seq, err)
		}
		g.tree.commit()
		g.cp = r.pl.cp.clone()
	}
}

// history builds journal messages; every call to beat is a heartbeat a
// second of primary time after the last.
type history struct {
	msgs []journal.Message
	now  time.Time
	zxid int64
}

func newHistory() *history { return &history{now: time.Unix(1_800_000_000, 0)} }

func (h *history) add(evs ...journal.Event) {
	seq := uint64(len(h.msgs) + 1)
	h.msgs = append(h.msgs, journal.Message{Seq: seq, FirstSeq: seq, Events: evs})
}

func (h *history) beat() journal.Event {
	h.now = h.now.Add(time.Second)
	h.zxid++
	return journal.Event{Site: "east", Epoch: 1, Kind: journal.KindHeartbeat, Zxid: h.zxid, Time: h.now.UnixNano()}
}

// creates adds n children of parent, per to a message, a heartbeat after each.
func (h *history) creates(parent, format string, n, per int) {
	h.add(ev(journal.KindCreate, parent, "", journal.ModePersistent, nil), h.beat())
	for i := 0; i < n; i += per {
		var evs []journal.Event
		for k := i; k < min(n, i+per); k++ {
			evs = append(evs, ev(journal.KindCreate, parent+"/"+fmt.Sprintf(format, k), "", journal.ModePersistent, nil))
		}
		h.add(append(evs, h.beat())...)
	}
}

// deletes deletes children of parent one by one (as notifications of a
// recursive delete come), per to a message, with a heartbeat every beatEvery
// messages; then parent.
func (h *history) deletes(parent, format string, n, per, beatEvery int) {
	for i, m := 0, 0; i < n; i, m = i+per, m+1 {
		var evs []journal.Event
		for k := i; k < min(n, i+per); k++ {
			evs = append(evs, ev(journal.KindDelete, parent+"/"+fmt.Sprintf(format, k), "", 0, nil))
		}
		if m%beatEvery == beatEvery-1 {
			evs = append(evs, h.beat())
		}
		h.add(evs...)
	}
	h.add(ev(journal.KindDelete, parent, "", 0, nil), h.beat())
}

var defaultRule = guardRule{share: 0.25, minNodes: 100, window: 10 * time.Minute}

// The guard's verdicts are a function of the primary's history: cutting the
// same history with restarts anywhere holds at the same messages with the
// same figures.
func TestGuardVerdictIgnoresRestarts(t *testing.T) {
	h := newHistory()
	h.creates("/kafka", "topic-%04d", 1800, 100)
	h.creates("/cfg", "c%03d", 200, 100)
	topic := len(h.msgs) + 1
	h.deletes("/cfg", "c%03d", 200, 7, 5) // a 200-node subtree: 10 %
	wipe := len(h.msgs) + 1
	h.deletes("/kafka", "topic-%04d", 1800, 50, 4) // the rest, a group per 4 messages
	base := newGuardSim(defaultRule)
	base.run(t, h.msgs, nil)
	if len(base.holds) != 1 {
		t.Fatalf("holds %v, want exactly one, in the wipe", base.holds)
	}
	t.Logf("topic deletion from seq %d, wipe from %d: %v", topic, wipe, base.holds)
	for _, every := range []int{1, 2, 3, 7, 13} {
		restarts := map[uint64]bool{}
		for s := 1; s <= len(h.msgs); s += every {
			restarts[uint64(s)] = true
		}
		g := newGuardSim(defaultRule)
		g.run(t, h.msgs, restarts)
		if fmt.Sprint(g.holds) != fmt.Sprint(base.holds) {
			t.Errorf("restarting every %d messages: holds %v, want %v", every, g.holds, base.holds)
		}
	}
}

func TestGuardRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(h *history)
		trips bool
	}{
		{"topic deletion, 10 % of the tree", func(h *history) {
			h.creates("/brokers", "t%04d", 1800, 200)
			h.creates("/topic", "p%03d", 203, 203)
			h.deletes("/topic", "p%03d", 203, 10, 3)
		}, false},
		{"recursive delete of most of the tree", func(h *history) {
			h.creates("/app", "n%04d", 2000, 200)
			h.deletes("/app", "n%04d", 2000, 10, 5)
		}, true},
		{"queue drained: sequence-shaped names are not weighed", func(h *history) {
			h.creates("/cfg", "c%03d", 300, 100)
			h.creates("/queue", "qn-%010d", 5000, 500)
			h.deletes("/queue", "qn-%010d", 5000, 50, 2)
		}, false},
		{"a tree that grew in the window and is wiped", func(h *history) {
			h.creates("/new", "n%04d", 1000, 100)
			h.deletes("/new", "n%04d", 1000, 100, 1)
		}, true},
		{"below the minimum", func(h *history) {
			h.creates("/small", "n%02d", 80, 80)
			h.deletes("/small", "n%02d", 80, 10, 1)
		}, false},
		{"churn: nodes created and deleted between heartbeats", func(h *history) {
			h.creates("/cfg", "c%03d", 500, 100)
			for round := range 20 {
				var evs []journal.Event
				for k := range 200 {
					evs = append(evs, ev(journal.KindCreate, fmt.Sprintf("/cfg/task-%d-%d", round, k), "", journal.ModePersistent, nil))
				}
				for k := range 200 {
					evs = append(evs, ev(journal.KindDelete, fmt.Sprintf("/cfg/task-%d-%d", round, k), "", 0, nil))
				}
				h.add(append(evs, h.beat())...)
			}
		}, false},
		{"a snapshot that no longer mentions most of the tree", func(h *history) {
			h.creates("/app", "n%04d", 1000, 200)
			h.add(journal.Event{Kind: journal.KindSnapshotBegin, Snapshot: 7, Epoch: 1},
				ev(journal.KindSnapshotNode, "/app", "", journal.ModePersistent, nil),
				journal.Event{Kind: journal.KindSnapshotEnd, Snapshot: 7, Epoch: 1}, h.beat())
		}, true},
		{"deletes spread thinner than the window", func(h *history) {
			h.creates("/app", "n%04d", 2000, 200)
			for i := 0; i < 2000; i += 20 {
				var evs []journal.Event
				for k := i; k < i+20; k++ {
					evs = append(evs, ev(journal.KindDelete, fmt.Sprintf("/app/n%04d", k), "", 0, nil))
				}
				h.now = h.now.Add(time.Minute) // 20 deletes a minute: 200 per window
				h.add(append(evs, h.beat())...)
				if i >= 1000 {
					break
				}
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory()
			tc.build(h)
			g := newGuardSim(defaultRule)
			g.run(t, h.msgs, nil)
			if got := len(g.holds) > 0; got != tc.trips {
				t.Errorf("tripped = %v (%v), want %v", got, g.holds, tc.trips)
			}
		})
	}
}

func TestSequenceShaped(t *testing.T) {
	for name, want := range map[string]bool{
		"qn-0000000012": true, "0000000000": true, "lock-": false, "n1234": false,
		"_c_8d3f-lock-0000000003": true, "topic-000000001x": false, "": false,
	} {
		if got := sequenceShaped(name); got != want {
			t.Errorf("sequenceShaped(%q) = %v, want %v", name, got, want)
		}
	}
}
