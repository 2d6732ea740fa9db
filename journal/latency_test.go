package journal

import (
	"sync"
	"testing"
	"time"
)

// Each duration lands in the first bucket whose bound is not below it; the
// counts, the sum and the cumulative form agree.
func TestHistogramBuckets(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{
		-time.Second,           // clocks that disagree: counted as 0
		0,                      // bucket 0
		time.Millisecond,       // bucket 0: bounds are inclusive
		time.Millisecond + 1,   // bucket 1
		300 * time.Millisecond, // bucket 8 (250 ms..500 ms)
		time.Minute,            // the last bound
		time.Hour,              // beyond every bound
	} {
		h.Observe(d)
	}
	s := h.Snapshot()
	want := map[int]uint64{0: 3, 1: 1, 8: 1, 14: 1, 15: 1}
	for i, c := range s.Counts {
		if c != want[i] {
			t.Errorf("bucket %d holds %d, want %d (%v)", i, c, want[i], s.Counts)
		}
	}
	if s.Count() != 7 {
		t.Errorf("count %d, want 7", s.Count())
	}
	if wantSum := 2*time.Millisecond + 1 + 300*time.Millisecond + time.Minute + time.Hour; s.Sum != wantSum {
		t.Errorf("sum %v, want %v", s.Sum, wantSum)
	}
	cum := s.Cumulative()
	if len(cum) != len(LatencyBuckets()) || cum[0.001] != 3 || cum[0.0025] != 4 || cum[0.25] != 4 || cum[0.5] != 5 || cum[60] != 6 {
		t.Errorf("cumulative %v", cum)
	}
	if b := LatencyBuckets(); len(b) != NumLatencyBuckets-1 || b[0] != time.Millisecond || b[len(b)-1] != time.Minute {
		t.Errorf("buckets %v", b)
	}
}

// Quantiles interpolate within the bucket that holds the rank, as Prometheus's
// histogram_quantile does.
func TestHistogramQuantile(t *testing.T) {
	obs := func(ds ...time.Duration) HistogramSnapshot {
		var h Histogram
		for _, d := range ds {
			h.Observe(d)
		}
		return h.Snapshot()
	}
	many := func(n int, d time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = d
		}
		return out
	}
	cases := []struct {
		name string
		s    HistogramSnapshot
		q    float64
		want time.Duration
	}{
		{"empty", HistogramSnapshot{}, 0.5, 0},
		{"one bucket, median", obs(many(100, 300*time.Millisecond)...), 0.5, 375 * time.Millisecond},
		{"one bucket, p99", obs(many(100, 300*time.Millisecond)...), 0.99, 497500 * time.Microsecond},
		{"first bucket starts at zero", obs(many(10, 500*time.Microsecond)...), 0.5, 500 * time.Microsecond},
		{"two buckets", obs(append(many(90, 3*time.Millisecond), many(10, 2*time.Second)...)...), 0.99, 2350 * time.Millisecond},
		{"beyond the last bound", obs(many(10, time.Hour)...), 0.5, time.Minute},
		{"q above 1", obs(many(4, 7*time.Millisecond)...), 2, 10 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.s.Quantile(c.q)
			if diff := got - c.want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Fatalf("quantile %v = %v, want %v", c.q, got, c.want)
			}
		})
	}
}

// Sub gives the observations between two snapshots; Add and Mean combine them.
func TestHistogramSub(t *testing.T) {
	var h Histogram
	h.Observe(time.Millisecond)
	before := h.Snapshot()
	h.Observe(2 * time.Second)
	h.Observe(2 * time.Second)
	d := h.Snapshot().Sub(before)
	if d.Count() != 2 || d.Sum != 4*time.Second || d.Mean() != 2*time.Second || d.Quantile(0.5) < time.Second {
		t.Fatalf("difference %+v", d)
	}
	if s := d.Add(before); s != h.Snapshot() {
		t.Fatalf("before + difference = %+v, want %+v", s, h.Snapshot())
	}
	if z := before.Sub(h.Snapshot()); z.Count() != 0 || z.Sum != 0 {
		t.Fatalf("an earlier snapshot minus a later one: %+v", z)
	}
}

// Observing takes no lock and allocates nothing; concurrent observers lose
// nothing.
func TestHistogramConcurrentAndAllocFree(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Observe(42 * time.Millisecond) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
	before := h.Snapshot().Count()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10000 {
				h.Observe(time.Duration(g*i) * time.Microsecond)
				if i%1000 == 0 {
					_ = h.Snapshot()
				}
			}
		}()
	}
	wg.Wait()
	if got := h.Snapshot().Count() - before; got != 40000 {
		t.Fatalf("%d observations counted, want 40000", got)
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	d := 3 * time.Millisecond
	for b.Loop() {
		h.Observe(d)
	}
}
