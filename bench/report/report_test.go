package report

import (
	"strings"
	"testing"
	"time"

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
	if strings.Contains(out, "## Workload c") {
		t.Error("report has a section for a workload that did not run")
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
