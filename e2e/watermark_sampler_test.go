package e2e

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// watermarkSample is the standby's applied watermark as read at one moment.
type watermarkSample struct {
	at   time.Time // when the checkpoint was read
	zxid int64     // the watermark: the last heartbeat applied
	time int64     // the primary's time of that heartbeat (unix ns)
}

// watermarkSampler reads the standby's checkpoint every 100 ms, as an
// operator's monitoring would, and keeps every sample. It reads the
// checkpoint (what the applier committed with its batches), not a daemon's
// memory, so it shows only what the standby really holds.
type watermarkSampler struct {
	mu      sync.Mutex
	samples []watermarkSample
	stopCh  chan struct{}
	done    chan struct{}
	once    sync.Once
}

func startWatermarkSampler(standby *zk.Conn) *watermarkSampler {
	s := &watermarkSampler{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			// tryCheckpoint fails quietly: the standby may be busy or
			// reconnecting, and a missed sample is only a missed sample.
			if cp, ok := tryCheckpoint(standby); ok && cp.WatermarkZxid != 0 {
				s.mu.Lock()
				s.samples = append(s.samples, watermarkSample{at: time.Now(), zxid: cp.WatermarkZxid, time: cp.WatermarkTime})
				s.mu.Unlock()
			}
			select {
			case <-s.stopCh:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and waits for it; it may be called more than once.
func (s *watermarkSampler) stop() {
	s.once.Do(func() { close(s.stopCh) })
	<-s.done
}

// watermarkStats sums up a sampler's samples.
type watermarkStats struct {
	samples int
	// still is the longest wall-clock stretch over which the applied
	// watermark did not move (up to the last sample).
	still time.Duration
	// step is the largest step between two consecutive applied heartbeats'
	// primary times: how far apart the heartbeats that reached the standby
	// were written.
	step time.Duration
	// lag is the largest lag seen: sample time minus the applied
	// heartbeat's primary time.
	lag time.Duration
}

func (w watermarkStats) String() string {
	return fmt.Sprintf("%d samples: stood still at most %s, lag at most %s, largest step between consecutive applied heartbeats %s (primary time)",
		w.samples, w.still.Round(time.Millisecond), w.lag.Round(time.Millisecond), w.step.Round(time.Millisecond))
}

// count is how many samples were taken so far.
func (s *watermarkSampler) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.samples)
}

// stats sums up the samples taken in [from, to).
func (s *watermarkSampler) stats(from, to time.Time) watermarkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var w watermarkStats
	var moved time.Time // when the watermark last changed, as sampled
	var prev *watermarkSample
	for i := range s.samples {
		cur := &s.samples[i]
		if cur.at.Before(from) || !cur.at.Before(to) {
			continue
		}
		w.samples++
		w.lag = max(w.lag, cur.at.Sub(time.Unix(0, cur.time)))
		if prev == nil {
			moved, prev = cur.at, cur
			continue
		}
		if cur.zxid != prev.zxid {
			w.step = max(w.step, time.Duration(cur.time-prev.time))
			moved = cur.at
		}
		w.still = max(w.still, cur.at.Sub(moved))
		prev = cur
	}
	return w
}
