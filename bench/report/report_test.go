package report

import (
	"strings"
	"testing"
	"time"

	"github.com/mm2go/mm2/bench/engine"
	"github.com/mm2go/mm2/bench/limits"
	"github.com/mm2go/mm2/bench/workload"
)

func sample() Report {
	res := func(sys, d, w string, rate float64, bps int64) workload.Result {
		return workload.Result{System: sys, Durability: d, Workload: w, Written: 1000, Drained: 1000,
			WriteSeconds: 1000 / rate, DrainSeconds: 2000 / rate, DiskBytes: 1000 * bps, PeakRSS: 10 << 20}
	}
	synced := workload.Synced.String()
	return Report{
		Quick:    true,
		Machine:  Machine{CPU: "test cpu", Cores: 2},
		Commands: []string{"cd bench", "go run ./cmd/compare -quick"},
		Config:   workload.Quick(),
		Limits:   limits.Limits{Chunk: limits.Chunk, DiskSyncedBps: 100 << 20, DiskUnsyncedBps: 1 << 30, SyncsPerSec: 2000, MemCopyBps: 10 << 30},
		Systems:  []System{{Name: "mm2"}, {Name: "wal"}, {Name: "bbolt"}},
		Results: []workload.Result{
			res("mm2", synced, workload.Bulk, 1e6, 5),
			res("wal", synced, workload.Bulk, 2e6, 16),
			res("bbolt", synced, workload.Bulk, 1e5, 4),
			res("wal", synced, workload.Concurrent, 1e5, 16),
		},
		Crashes: []Crash{{System: "wal", Durability: synced}},
		Started: time.Unix(0, 0),
	}
}

func TestReportHasEveryTableHeader(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"## Machine", "| CPU | test cpu |", "go run ./cmd/compare -quick",
		"## Physical limits (same run)", "| sequential write, fsync per 64 KB",
		"## Workload a: write, then drain with ACK",
		"| system | durability | samples | write samples/s | drain samples/s | disk B/sample |",
		"## Workload b: producer and consumer at once",
		"| system | durability | written samples/s | drained samples/s | backlog at end |",
		"## kill -9 while writing", "| system | durability | reported stored | delivered after reopen | lost | duplicated |",
		"## Ratios peer / mm2", "| a | synced | wal | 2.00× | 2.00× | 3.20× | 1.00× |",
		"| ceiling of a store that syncs once per 100-sample entry (syncs/s × 100) | 200.0 k samples/s |",
		"### mm2 against the machine's limits", "| synced | 4.8 MB/s | 4.8 % | 3.8 MB/s | 0.0 % |",
		"### Where mm2 loses", "against wal: writes 2.00 M samples/s, mm2 1.00 M", "against bbolt: 4.00 disk bytes per sample, mm2 5.00",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "## Workload c") || strings.Contains(out, "- Workload c:") {
		t.Error("report has a section for a workload that did not run")
	}
	if !strings.Contains(out, "- Workload a: 1000 samples per stream (500.0 k samples)") {
		t.Error("report does not describe workload a")
	}
}

func TestReportWithoutMM2SaysSo(t *testing.T) {
	r := sample()
	r.Systems[0].Unavailable = "not in this build"
	var b strings.Builder
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "mm2 did not run (not in this build)") {
		t.Errorf("report does not say mm2 did not run:\n%s", b.String())
	}
}

func engineSample() *Engine {
	cfg := engine.Quick()
	pol := func(name string, written, disk, idle int64) engine.PolicyResult {
		return engine.PolicyResult{Policy: name, Label: name,
			Write:            workload.Result{Written: written, Drained: written, WriteSeconds: 1, DiskBytes: disk, DeviceWriteBytes: 2 * disk, DeviceDrainBytes: -1},
			CloseDeviceBytes: 4096, ReopenSeconds: 0.01, IdleSeconds: 5, IdleTicks: 50, IdleDeviceBytes: idle}
	}
	return &Engine{
		Quick:    true,
		Config:   cfg,
		Policies: []engine.PolicyResult{pol("default (on-power-down)", 1000, 4000, 0), pol("always", 100, 5000, 4096)},
		NewStreams: &engine.NewStreamsResult{Policy: "default", Streams: 2048, Seconds: 0.030, Slowest: 2 * time.Millisecond,
			DeviceBytes: 8192},
		Latency: &engine.LatencyResult{Policy: "default", Streams: 2048, Rate: 100_000,
			Write:      engine.Summary{Count: 300_000, P50: 80, P99: 400, P999: 2 * time.Microsecond, MaxValue: time.Millisecond},
			WriteDue:   engine.Summary{Count: 300_000, P50: 100, P99: 120 * time.Microsecond, P999: time.Millisecond, MaxValue: 2 * time.Millisecond},
			WriteStall: engine.Summary{Count: 300_500, P50: 100, P99: 60 * time.Microsecond, P999: time.Millisecond, MaxValue: 2 * time.Millisecond}},
		Scrape: &engine.ScrapeResult{Policy: "default", Streams: 2048, Samples: 8e6, DiskBytes: 32 << 20,
			Gather: engine.Summary{Count: 3, P50: 4 * time.Millisecond, MaxValue: 5 * time.Millisecond}},
	}
}

func TestReportStatesMM2sOwnFiguresAgainstTheirGoals(t *testing.T) {
	r := sample()
	r.Engine = engineSample()
	r.Crashes = append(r.Crashes, Crash{System: "mm2", Durability: workload.NotSynced.String(),
		CrashResult: workload.CrashResult{Lost: 3, Duplicated: 0}})
	var b strings.Builder
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"## mm2 under each sync policy", "(measured over 5s and scaled to a minute)",
		"| default (on-power-down) | 1000 | 1000 | 4.00 | 0.0 KB | 8.00 | 4096 B | – | 10.0 ms | 0 B (50 ticks) |",
		"| always | 100 | 100 | 50.00 | 0.0 KB | 100.00 | 4096 B | – | 10.0 ms | 48.0 KB (50 ticks) |",
		"## mm2: new streams", "| 2048 | 30.0 ms | 14.6 µs | 2.00 ms | 8192 B |",
		"## mm2: write latency while other goroutines sync, scrape and check",
		"| WriteTSD, with the writes due meanwhile | 300.5 k | 0.1 µs | 60.0 µs | 1.00 ms | 2.00 ms |",
		"| WriteTSD, from when due | 300.0 k | 0.1 µs | 120.0 µs | 1.00 ms | 2.00 ms |",
		"## mm2: a metrics scrape with a backlog on disk", "(the goal speaks of 256.0 MB; this run is smaller)",
		"### Against the goals",
		"| workload a, synced, write samples/s | ≥ 1.2× best peer | 1.00 M | wal (2.00 M) | 0.50× | **no** |",
		"| workload a, synced, disk B/sample | ≤ 4.2 | 5.00 | bbolt (4.00) | 1.25× | **no** |",
		"| kill -9, default policy (the not synced rows): lost / duplicated | 0 / 0 | 3 / 0 | – | – | **no** |",
		"| disk B/sample, default (on-power-down) | ≤ 4.2 | 4.00 | – | – | yes |",
		"| idle store, device bytes a minute, default (on-power-down) | 0 | 0 B | – | – | yes |",
		"| idle store, device bytes a minute, always | 0 | 48.0 KB | – | – | **no** |",
		"| configure and first write, 2048 new streams | ≤ 50.00 ms | 30.00 ms | – | – | yes |",
		"| p99 write latency (with the writes due meanwhile) beside Sync, scrape and Check | ≤ 50.0 µs | 60.0 µs | – | – | **no** |",
		"| metrics scrape (gather, max of 3), 2048 streams, 32.0 MB on disk (goal: with 256.0 MB) | ≤ 10.00 ms | 5.00 ms | – | – | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestReportHasWorkloadDAndItsRatios(t *testing.T) {
	r := sample()
	synced := workload.Synced.String()
	r.Results = append(r.Results,
		workload.Result{System: "mm2", Durability: synced, Workload: workload.Mixed, Written: 1000, Drained: 1000, WriteSeconds: 1, DrainSeconds: 1, DiskBytes: 4000, DiskBytesEmpty: 1024, DeviceWriteBytes: 8000},
		workload.Result{System: "wal", Durability: synced, Workload: workload.Mixed, Written: 1000, Drained: 1000, WriteSeconds: 0.5, DrainSeconds: 2, DiskBytes: 18000, DeviceWriteBytes: -1})
	var b strings.Builder
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"## Workload d: one queue of entries mixing every stream, then drain",
		"| mm2 | synced | 1000 | 1000 | 1000 | 4.00 | 1.0 KB | 8.00 |",
		"| wal | synced | 1000 | 2000 | 500 | 18.00 | 0.0 KB | – |",
		"| d | synced | wal | 2.00× | 0.50× | 4.50× |",
		"| workload d, synced, drain samples/s | ≥ 1.2× best peer | 1000 | wal (500) | 2.00× | yes |",
		"| workload d, synced, disk B/sample | ≤ 4.2 | 4.00 | wal (18.00) | 0.22× | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
