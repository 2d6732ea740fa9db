package journal

import (
	"sync/atomic"
	"time"
)

// NumLatencyBuckets is the number of buckets of a Histogram: one per bound of
// LatencyBuckets and one for everything slower than the last.
const NumLatencyBuckets = len(latencyBounds) + 1

// latencyBounds are the upper bounds of a Histogram's buckets: 1 ms (below it
// nothing zkdr measures is worth telling apart) to 60 s (beyond it the lag
// alerts have long fired), about three buckets per decade.
var latencyBounds = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, time.Minute,
}

// LatencyBuckets returns the upper bounds of a Histogram's buckets, smallest
// first; the last bucket, without a bound, is not among them.
func LatencyBuckets() []time.Duration { return append([]time.Duration(nil), latencyBounds[:]...) }

// Histogram counts durations in the buckets of LatencyBuckets. Observe is
// two atomic adds and allocates nothing, cheap enough for every event on a hot
// path, from any number of goroutines; Snapshot may be called meanwhile from
// any goroutine. The zero value is ready to use.
type Histogram struct {
	counts [NumLatencyBuckets]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// Observe counts one duration; a negative one (clocks that disagree) counts
// as zero.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot returns the counts so far.
func (h *Histogram) Snapshot() HistogramSnapshot {
	var s HistogramSnapshot
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// HistogramSnapshot is a Histogram's counts at one moment. Snapshots taken
// from one Histogram only grow, so the difference of two (Sub) describes the
// durations observed between them.
type HistogramSnapshot struct {
	// Counts holds the observations of each bucket (not cumulative), in the
	// order of LatencyBuckets; the last counts those slower than its last bound.
	Counts [NumLatencyBuckets]uint64 `json:"counts"`
	// Sum is the total of the durations observed.
	Sum time.Duration `json:"sum"`
}

// Count is the number of observations.
func (s HistogramSnapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Sub returns what was observed after old, a snapshot of the same Histogram
// taken earlier.
func (s HistogramSnapshot) Sub(old HistogramSnapshot) HistogramSnapshot {
	for i := range s.Counts {
		s.Counts[i] -= min(old.Counts[i], s.Counts[i])
	}
	s.Sum -= min(old.Sum, s.Sum)
	return s
}

// Add returns the sum of two snapshots (of two components' histograms, say).
func (s HistogramSnapshot) Add(o HistogramSnapshot) HistogramSnapshot {
	for i := range s.Counts {
		s.Counts[i] += o.Counts[i]
	}
	s.Sum += o.Sum
	return s
}

// Mean is the average duration observed, 0 without observations.
func (s HistogramSnapshot) Mean() time.Duration {
	n := s.Count()
	if n == 0 {
		return 0
	}
	return s.Sum / time.Duration(n)
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) of the durations observed
// the way Prometheus's histogram_quantile does: it finds the bucket holding
// that rank and interpolates linearly within it (the first bucket starts at
// 0). A rank in the last, unbounded bucket yields its lower bound, 60 s. 0
// without observations.
func (s HistogramSnapshot) Quantile(q float64) time.Duration {
	n := s.Count()
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(n)
	var below uint64
	for i, c := range s.Counts {
		if c == 0 || float64(below+c) < rank {
			below += c
			continue
		}
		if i == len(latencyBounds) {
			return latencyBounds[len(latencyBounds)-1]
		}
		lo := time.Duration(0)
		if i > 0 {
			lo = latencyBounds[i-1]
		}
		hi := latencyBounds[i]
		return lo + time.Duration(float64(hi-lo)*(rank-float64(below))/float64(c))
	}
	return latencyBounds[len(latencyBounds)-1]
}

// Cumulative returns, for each bound of LatencyBuckets in seconds, the
// observations no larger than it: the form Prometheus's histograms take.
func (s HistogramSnapshot) Cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(latencyBounds))
	var n uint64
	for i, b := range latencyBounds {
		n += s.Counts[i]
		out[b.Seconds()] = n
	}
	return out
}
