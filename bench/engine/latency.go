package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mm2go/mm2/metrics"

	"github.com/mm2go/mm2/bench/workload"
)

// LatencyResult is how long single writes took while other goroutines synced, scraped
// metrics and ran Check, and how long those calls took themselves.
type LatencyResult struct {
	Policy   string
	Streams  int
	Seconds  float64
	Rate     int     // writes per second the writer was due to make
	Write    Summary // one WriteTSD each, from its call to its return
	WriteDue Summary // one WriteTSD each, from when it was due (or its call, if called early) to its return
	// WriteStall is each WriteTSD from its call, plus, for a call that took longer than
	// the write interval, one figure for every write that fell due during it, as long as
	// it still had to wait (latency − k·interval): the standard correction for
	// coordinated omission. It counts what mm2 made a steady sensor loop wait, without
	// the lateness of the harness's own sleeps, which WriteDue includes.
	WriteStall Summary
	Sync       Summary // Manager.Sync
	Scrape     Summary // a Prometheus gather of the metrics collector
	Check      Summary // Manager.Check
	DiskBytes  int64   // on disk at the end
	Err        string
}

// latencyAhead is how early the writer may be before it sleeps: sleeping is coarse (tens of
// µs or more), so the writer writes what is due in bursts of about this length.
const latencyAhead = time.Millisecond

// RunLatency writes cfg.LatencyRate samples a second for cfg.LatencyFor, round-robin over
// cfg.LatencyStreams streams of a new store in dir under the default policy, timing each
// write both from its call and from when it was due. Beside it one goroutine calls
// Manager.Sync, one gathers the Prometheus metrics of every stream and one runs
// Manager.Check, each pausing its interval between calls.
func RunLatency(dir string, cfg Config) (LatencyResult, error) {
	p, _ := PolicyByName("default")
	res := LatencyResult{Policy: p.Label, Streams: cfg.LatencyStreams, Rate: cfg.LatencyRate}
	s, err := openPolicy(dir, p, cfg.LatencyStreams)
	if err != nil {
		return res, err
	}
	m := s.Manager()
	// A registry of mm2's collector alone: the Go runtime collector's cost is not mm2's.
	reg := prometheus.NewRegistry()
	if err := reg.Register(metrics.New(m, nil)); err != nil {
		return res, errors.Join(err, s.Close())
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var syncH, scrapeH, checkH Histogram
	errs := make([]error, 3)
	background := func(i int, h *Histogram, every time.Duration, call func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				err := call()
				h.Add(time.Since(t0))
				if err != nil {
					errs[i] = err
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(every):
				}
			}
		}()
	}
	background(0, &syncH, cfg.SyncEvery, func() error {
		if err := m.Sync(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		return nil
	})
	background(1, &scrapeH, cfg.ScrapeEvery, func() error {
		if _, err := reg.Gather(); err != nil {
			return fmt.Errorf("scrape: %w", err)
		}
		return nil
	})
	background(2, &checkH, cfg.CheckEvery, func() error {
		if err := m.Check(); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		return nil
	})

	var writeH, dueH, stallH Histogram
	base := cfg.Workload.BaseUTC
	interval := time.Second / time.Duration(cfg.LatencyRate)
	start := time.Now()
	var werr error
	// Write k is due at start + k·interval. The writer sleeps when it is more than
	// latencyAhead early, so it writes in short bursts; a stall makes it late, and every
	// write due during the stall then counts the wait in dueH.
	for k := int64(0); ; k++ {
		due := start.Add(time.Duration(k) * interval)
		if due.Sub(start) >= cfg.LatencyFor {
			break
		}
		if ahead := time.Until(due); ahead > latencyAhead {
			time.Sleep(ahead)
		}
		round, st := k/int64(cfg.LatencyStreams), int(k%int64(cfg.LatencyStreams))
		seq := uint64(round) + 1
		rec := workload.Record{Stream: uint16(st), Seq: seq, UTC: base + round*cfg.Workload.PeriodMs, Value: workload.SampleValue(uint16(st), seq)}
		t0 := time.Now()
		err := s.WriteTSD(rec)
		end := time.Now()
		took := end.Sub(t0)
		writeH.Add(took)
		stallH.Add(took)
		for wait := took - interval; wait > 0; wait -= interval {
			stallH.Add(wait)
		}
		if t0.After(due) {
			dueH.Add(end.Sub(due))
		} else {
			dueH.Add(end.Sub(t0))
		}
		if err != nil {
			werr = fmt.Errorf("write stream %d: %w", st, err)
			break
		}
	}
	res.Seconds = time.Since(start).Seconds()
	stop()
	wg.Wait()
	res.Write, res.WriteDue, res.WriteStall = writeH.Summarize(), dueH.Summarize(), stallH.Summarize()
	res.Sync, res.Scrape, res.Check = syncH.Summarize(), scrapeH.Summarize(), checkH.Summarize()
	var derr error
	res.DiskBytes, derr = s.DiskBytes()
	return res, errors.Join(werr, errors.Join(errs...), derr, s.Close())
}
