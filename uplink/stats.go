package uplink

import (
	"time"

	"github.com/mm2go/mm2"
)

// latencyBounds are the upper bounds, in seconds, of the send latency
// histogram: from a loopback broker (about a millisecond) to a cellular
// link near its timeout.
var latencyBounds = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Histogram is a latency distribution in the shape Prometheus expects.
type Histogram struct {
	Bounds []float64 // bucket upper bounds in seconds, ascending
	Counts []uint64  // observations per bucket, not cumulative; len(Bounds)+1, the last is +Inf
	Count  uint64
	Sum    float64 // seconds
}

func newHistogram() Histogram {
	return Histogram{Bounds: latencyBounds[:], Counts: make([]uint64, len(latencyBounds)+1)}
}

func (h *Histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(h.Bounds) && s > h.Bounds[i] {
		i++
	}
	h.Counts[i]++
	h.Count++
	h.Sum += s
}

func (h Histogram) clone() Histogram {
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}

// SourceStats are the counters of one source. A batch is counted in Batches
// when it is sent, then in exactly one of Acks or Nacks when its Send ends.
type SourceStats struct {
	Batches, Records, Bytes uint64 // batches sent, the records and payload bytes in them (retries included)
	Acks, AckedRecords      uint64 // batches confirmed and ACKed
	Nacks, NackedRecords    uint64 // batches failed or timed out and NACKed
	Timeouts                uint64 // Nacks whose Send ran out of time
	Conflicts               uint64 // streams NACKed instead of ACKed because another reader touched them
	Failures                int    // failed sends in a row now
	Backoff                 time.Duration
}

func (s *SourceStats) add(o SourceStats) {
	s.Batches += o.Batches
	s.Records += o.Records
	s.Bytes += o.Bytes
	s.Acks += o.Acks
	s.AckedRecords += o.AckedRecords
	s.Nacks += o.Nacks
	s.NackedRecords += o.NackedRecords
	s.Timeouts += o.Timeouts
	s.Conflicts += o.Conflicts
}

// Stats is a snapshot of an Uplink's counters.
type Stats struct {
	Total    SourceStats // sums over the sources (Failures and Backoff: the worst source)
	Sources  [mm2.MaxSources]SourceStats
	InFlight int
	Latency  Histogram // of every Send, confirmed or not
}

// Stats returns a snapshot of the counters.
func (u *Uplink) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.stats
	st.Latency = st.Latency.clone()
	st.Total = SourceStats{}
	for _, s := range st.Sources {
		st.Total.add(s)
		st.Total.Failures = max(st.Total.Failures, s.Failures)
		st.Total.Backoff = max(st.Total.Backoff, s.Backoff)
	}
	return st
}

func (u *Uplink) count(src mm2.Source, f func(*SourceStats)) {
	u.mu.Lock()
	f(&u.stats.Sources[src])
	u.mu.Unlock()
}

func (u *Uplink) observe(d time.Duration) {
	u.mu.Lock()
	u.stats.Latency.observe(d)
	u.mu.Unlock()
}

func (u *Uplink) setInFlight(n int) {
	u.mu.Lock()
	u.stats.InFlight = n
	u.mu.Unlock()
}
