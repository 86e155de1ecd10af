package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/metrics"

	"github.com/mm2go/mm2/bench/workload"
)

// NewStreamsResult is the time to configure streams in a new store and write the first
// record to each, as a gateway does at boot.
type NewStreamsResult struct {
	Policy      string
	Streams     int
	Seconds     float64       // all of them
	Slowest     time.Duration // the slowest Configure plus first WriteTSD
	DeviceBytes int64         // sent to the device meanwhile; -1 unknown
	Err         string
}

// RunNewStreams opens a new store in dir under the default policy and, timed, configures
// cfg.NewStreams TSD streams, writing one sample to each right after its Configure. The
// clock is the real one.
func RunNewStreams(dir string, cfg Config) (NewStreamsResult, error) {
	p, _ := PolicyByName("default")
	res := NewStreamsResult{Policy: p.Label, Streams: cfg.NewStreams, DeviceBytes: -1}
	m, err := mm2.Open(mm2.Options{Dir: dir, Profile: mm2.ProfileLinux, Sync: p.Config.Policy})
	if err != nil {
		return res, err
	}
	period := time.Duration(cfg.Workload.PeriodMs) * time.Millisecond
	dev := workload.StartDeviceWrites()
	start := time.Now()
	for i := range cfg.NewStreams {
		t0 := time.Now()
		st, err := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: uint32(i)}, mm2.TSD, period)
		if err != nil {
			return res, errors.Join(fmt.Errorf("configure stream %d: %w", i, err), m.Close())
		}
		if err := st.WriteTSD(uint32(i)); err != nil {
			return res, errors.Join(fmt.Errorf("first write to stream %d: %w", i, err), m.Close())
		}
		res.Slowest = max(res.Slowest, time.Since(t0))
	}
	res.Seconds = time.Since(start).Seconds()
	res.DeviceBytes = dev.Written()
	return res, m.Close()
}

// ScrapeResult is how long a metrics scrape takes with a backlog on disk.
type ScrapeResult struct {
	Policy       string
	Streams      int
	Samples      int64   // written to build the backlog
	WriteSeconds float64 // to write them
	DiskBytes    int64   // on disk when the scrapes ran
	Gather       Summary // a Prometheus gather of mm2's metrics collector
	Stats        Summary // Manager.Stats and every Stream.Stats
	Err          string
}

// RunScrape writes batches round-robin to cfg.ScrapeStreams streams of a new store in dir
// (default policy) until it holds cfg.ScrapeBacklog bytes on disk, then times cfg.Scrapes
// scrapes of each kind. Writing stops at the workload's phase limit; the backlog reached is
// in the result.
func RunScrape(dir string, cfg Config) (ScrapeResult, error) {
	p, _ := PolicyByName("default")
	res := ScrapeResult{Policy: p.Label, Streams: cfg.ScrapeStreams}
	s, err := openPolicy(dir, p, cfg.ScrapeStreams)
	if err != nil {
		return res, err
	}
	batch := make([]workload.Record, cfg.Workload.Batch)
	next := make([]uint64, cfg.ScrapeStreams)
	start := time.Now()
	for res.DiskBytes < cfg.ScrapeBacklog && time.Since(start) < cfg.Workload.PhaseLimit {
		for st := range cfg.ScrapeStreams {
			for i := range batch {
				next[st]++
				seq := next[st]
				batch[i] = workload.Record{Stream: uint16(st), Seq: seq,
					UTC: cfg.Workload.BaseUTC + int64(seq-1)*cfg.Workload.PeriodMs, Value: workload.SampleValue(uint16(st), seq)}
			}
			if err := s.Append(uint16(st), batch); err != nil {
				return res, errors.Join(fmt.Errorf("write stream %d: %w", st, err), s.Close())
			}
			res.Samples += int64(len(batch))
		}
		if res.DiskBytes, err = s.DiskBytes(); err != nil {
			return res, errors.Join(err, s.Close())
		}
	}
	res.WriteSeconds = time.Since(start).Seconds()
	m := s.Manager()
	reg := prometheus.NewRegistry() // mm2's collector alone, as in RunLatency
	if err := reg.Register(metrics.New(m, nil)); err != nil {
		return res, errors.Join(err, s.Close())
	}
	var handles []*mm2.Stream
	for _, id := range m.Streams() {
		h, err := m.Stream(id)
		if err != nil {
			return res, errors.Join(err, s.Close())
		}
		handles = append(handles, h)
	}
	var gather, stats Histogram
	for range cfg.Scrapes {
		t0 := time.Now()
		if _, err := reg.Gather(); err != nil {
			return res, errors.Join(fmt.Errorf("scrape: %w", err), s.Close())
		}
		gather.Add(time.Since(t0))
		t0 = time.Now()
		_ = m.Stats()
		for _, h := range handles {
			_ = h.Stats()
		}
		stats.Add(time.Since(t0))
	}
	res.Gather, res.Stats = gather.Summarize(), stats.Summarize()
	return res, s.Close()
}
