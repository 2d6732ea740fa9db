package applier

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkdr/zkdr/internal/zkpath"
	"github.com/zkdr/zkdr/internal/zktest"
	"github.com/zkdr/zkdr/journal"
)

// BenchmarkApplierBacklog applies a backlog of 100k update events (1,000 nodes,
// 10 events per journal message, as the appender batches them) and, in the same
// run against the same standby, measures the standby's raw Multi ceiling: Multi
// of 100 setData with 64 in flight. Both rates are reported; compare their ratio,
// never the absolute figures, across machines.
func BenchmarkApplierBacklog(b *testing.B) {
	const nodes, events, perMsg = 1000, 100_000, 10
	zkc := zktest.Start(b)
	conn := zktest.Admin(b, zkc.Servers())
	data := make([]byte, 100)
	for range b.N {
		j := newFakeJournal()
		var evs []journal.Event
		evs = append(evs, ev(journal.KindCreate, "/bench", "", journal.ModePersistent, openACL))
		for i := range nodes {
			evs = append(evs, ev(journal.KindCreate, fmt.Sprintf("/bench/n%04d", i), "", journal.ModePersistent, openACL))
			if len(evs) == 500 {
				j.add(evs...)
				evs = nil
			}
		}
		j.add(evs...)
		cfg := testApplierConfig(b, zkc, j)
		cfg.Logger = nil
		setup := startApplier(b, cfg)
		waitApplied(b, setup.Applier, j.last())
		if err := setup.stop(b); err != nil {
			b.Fatal(err)
		}
		for m := range events / perMsg {
			evs := make([]journal.Event, perMsg)
			for k := range evs {
				e := ev(journal.KindUpdate, fmt.Sprintf("/bench/n%04d", (m*perMsg+k)%nodes), "", journal.ModePersistent, nil)
				e.Data = data
				evs[k] = e
			}
			j.add(evs...)
		}
		b.ResetTimer()
		start := time.Now()
		a := startApplier(b, cfg)
		waitApplied(b, a.Applier, j.last())
		applied := time.Since(start)
		b.StopTimer()
		if err := a.stop(b); err != nil {
			b.Fatal(err)
		}
		st := a.Stats()

		// The standby's own ceiling, same server, same nodes.
		start = time.Now()
		var wg sync.WaitGroup
		multis := make(chan int, 64)
		const rawOps = 100_000
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for m := range multis {
					ops := make([]any, 100)
					for k := range ops {
						ops[k] = &zk.SetDataRequest{Path: fmt.Sprintf("/bench/n%04d", (m*100+k)%nodes), Data: data, Version: -1}
					}
					if _, err := conn.Multi(ops...); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		for m := range rawOps / 100 {
			multis <- m
		}
		close(multis)
		wg.Wait()
		raw := time.Since(start)

		applyRate := float64(events) / applied.Seconds()
		rawRate := float64(rawOps) / raw.Seconds()
		b.ReportMetric(applyRate, "events/s")
		b.ReportMetric(rawRate, "raw-setdata/s")
		b.ReportMetric(applyRate/rawRate, "apply/raw")
		b.Logf("applied %d events in %v (%.0f/s, %d batches); raw Multi ceiling %.0f setData/s; ratio %.2f",
			events, applied.Round(time.Millisecond), applyRate, st.Batches, rawRate, applyRate/rawRate)
	}
}

// BenchmarkApplyBatcher measures the applier's own CPU work per event, without
// a standby: planning update messages (10 events each, as the appender batches
// them) against the standby tree, packing them into Multis of MaxBatchOps and
// encoding each Multi's checkpoint. This is what runs while Multis are in
// flight, so it bounds the apply rate from above.
func BenchmarkApplyBatcher(b *testing.B) {
	const nodes, perMsg = 1000, 10
	var m zkpath.Mapper
	tree := newStandbyTree(m)
	tree.add("/", &tnode{})
	tree.add("/bench", &tnode{mode: journal.ModePersistent})
	for i := range nodes {
		tree.add(fmt.Sprintf("/bench/n%04d", i), &tnode{mode: journal.ModePersistent})
	}
	tree.commit()
	r := &run{a: &Applier{cfg: DefaultConfig()}, tree: tree, pl: &planner{tree: tree, m: m}}
	data := make([]byte, 100)
	msgs := make([]journal.Message, 997)
	for i := range msgs {
		evs := make([]journal.Event, perMsg)
		for k := range evs {
			evs[k] = ev(journal.KindUpdate, fmt.Sprintf("/bench/n%04d", (i*perMsg+k)%nodes), "", journal.ModePersistent, nil)
			evs[k].Data = data
		}
		msgs[i] = journal.Message{Events: evs}
	}
	var bt batch
	multis := 0
	b.ResetTimer()
	for n := range b.N {
		msg := msgs[n%len(msgs)]
		msg.Seq = uint64(n + 1)
		mp, err := r.pl.plan(msg, false)
		if err != nil {
			b.Fatal(err)
		}
		if !bt.empty() && !r.fits(&bt, mp) {
			targets := padTargets{}
			for _, p := range bt.plans {
				for q, t := range p.targets {
					raiseTarget(targets, q, t)
				}
			}
			ops := append(bt.ops, r.pl.padOpsFor(targets)...)
			ops = append(ops, checkpointOp(bt.plans[len(bt.plans)-1].cp))
			if len(ops) < 2 {
				b.Fatal("empty multi")
			}
			tree.commit()
			bt = batch{}
			multis++
		}
		bt.add(mp)
	}
	b.ReportMetric(float64(b.N*perMsg)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(multis)/b.Elapsed().Seconds(), "multis/s")
}
