package engine

import (
	"testing"
	"time"

	"github.com/mm2go/mm2/bench/workload"
)

// tiny is a configuration small enough for every measurement to take well under a second
// (but the synced policies, which fsync per sample or per entry).
func tiny() Config {
	c := Quick()
	c.Workload.Streams = 3
	c.Workload.SamplesPerStream = 200
	c.Workload.PhaseLimit = 5 * time.Second
	c.IdleFor = 100 * time.Millisecond
	c.TickEvery = 20 * time.Millisecond
	c.NewStreams = 40
	c.LatencyFor = 200 * time.Millisecond
	c.LatencyStreams = 16
	c.LatencyRate = 20_000
	c.SyncEvery, c.ScrapeEvery, c.CheckEvery = 10*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond
	c.ScrapeStreams = 8
	c.ScrapeBacklog = 256 << 10
	c.Scrapes = 2
	return c
}

func TestHistogramQuantilesWithinBucketWidth(t *testing.T) {
	var h Histogram
	for i := 1; i <= 100_000; i++ {
		h.Add(time.Duration(i) * time.Microsecond / 10) // 0.1 µs .. 10 ms, uniform
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {0.001, 10 * time.Microsecond}} {
		got := h.Quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*(1+1.0/histSub) {
			t.Errorf("quantile %.3f: %s, want %s to %.0f%% above", c.q, got, c.want, 100.0/histSub)
		}
	}
	if h.Count() != 100_000 || h.Max() != 10*time.Millisecond || h.Quantile(1) != 10*time.Millisecond {
		t.Errorf("count %d max %s q1 %s", h.Count(), h.Max(), h.Quantile(1))
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 {
		t.Error("an empty histogram has a quantile")
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	for i := 1; i < histBuckets-histSub; i++ {
		if lo := histUpper(i-1) + 1; histIndex(uint64(lo)) != i {
			t.Fatalf("bucket %d starts at %d, which falls in bucket %d", i, lo, histIndex(uint64(lo)))
		}
	}
}

func TestPoliciesListTheDefaultFirstAndSyncEachLast(t *testing.T) {
	ps := Policies()
	if ps[0].Name != "default" || ps[len(ps)-1].Name != "sync-each" || !ps[len(ps)-1].Config.SyncEach {
		t.Fatalf("policies: %+v", ps)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Label] || seen[p.Name] {
			t.Fatalf("policy %s (%s) listed twice", p.Name, p.Label)
		}
		seen[p.Label], seen[p.Name] = true, true
		if q, ok := PolicyByName(p.Name); !ok || q.Label != p.Label {
			t.Fatalf("PolicyByName(%q) = %+v, %v", p.Name, q, ok)
		}
	}
	if _, ok := PolicyByName("sometimes"); ok {
		t.Fatal("an unknown policy was found")
	}
}

// TestEveryPolicyGivesBackWhatItWroteAfterIdling runs the two halves of a policy
// measurement, as the comparison's children do, and merges them.
func TestEveryPolicyGivesBackWhatItWroteAfterIdling(t *testing.T) {
	cfg := tiny()
	for _, p := range Policies() {
		t.Run(p.Name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := RunPolicyWrite(dir, p, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(cfg.Workload.Streams * cfg.Workload.SamplesPerStream)
			if res.Write.Written != want || res.Write.DiskBytes <= 0 {
				t.Fatalf("write: %d samples, %d disk bytes", res.Write.Written, res.Write.DiskBytes)
			}
			idle := PolicyResult{Policy: p.Name}
			if err := RunPolicyIdle(dir, p, cfg, &idle); err != nil {
				t.Fatal(err)
			}
			res.MergeIdle(idle, "")
			if res.Err != "" || res.Write.Drained != want || res.IdleTicks == 0 || res.IdleSeconds < cfg.IdleFor.Seconds() {
				t.Fatalf("after idle: err %q drained %d ticks %d idle %.2fs", res.Err, res.Write.Drained, res.IdleTicks, res.IdleSeconds)
			}
		})
	}
}

func TestMergeIdleReportsSamplesThatDidNotComeBack(t *testing.T) {
	r := PolicyResult{Write: workload.Result{Written: 100}}
	r.MergeIdle(PolicyResult{Write: workload.Result{Drained: 90}, IdleSeconds: 1}, "")
	if r.Err == "" {
		t.Fatal("10 missing samples went unreported")
	}
	r = PolicyResult{Write: workload.Result{Written: 100}}
	r.MergeIdle(PolicyResult{Write: workload.Result{Drained: 90, DrainCapped: true}}, "")
	if r.Err != "" {
		t.Fatalf("a capped drain reported as a loss: %s", r.Err)
	}
}

func TestIdleBytesPerMinuteScalesTheSpell(t *testing.T) {
	r := PolicyResult{IdleSeconds: 5, IdleDeviceBytes: 4096}
	if got := r.IdleBytesPerMinute(); got != 4096*12 {
		t.Fatalf("got %v", got)
	}
	r.IdleDeviceBytes = -1
	if got := r.IdleBytesPerMinute(); got != -1 {
		t.Fatalf("unknown counters gave %v", got)
	}
}

func TestNewStreamsConfiguresAndWritesEach(t *testing.T) {
	cfg := tiny()
	res, err := RunNewStreams(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Streams != cfg.NewStreams || res.Seconds <= 0 || res.Slowest <= 0 {
		t.Fatalf("got %+v", res)
	}
}

func TestLatencyTimesWritesAndEveryBackgroundCall(t *testing.T) {
	cfg := tiny()
	res, err := RunLatency(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	due := uint64(cfg.LatencyFor.Seconds() * float64(cfg.LatencyRate))
	if res.Write.Count != due || res.WriteDue.Count != due {
		t.Fatalf("%d and %d writes timed, want %d", res.Write.Count, res.WriteDue.Count, due)
	}
	if res.WriteStall.Count < due || res.WriteStall.MaxValue != res.Write.MaxValue {
		t.Fatalf("with the writes due meanwhile: %d figures, max %s; want at least %d, max %s (the longest call)", res.WriteStall.Count, res.WriteStall.MaxValue, due, res.Write.MaxValue)
	}
	if res.WriteDue.P50 < res.Write.P50 {
		t.Fatalf("a write measured from when it was due took less than from its call: %s < %s", res.WriteDue.P50, res.Write.P50)
	}
	if res.Sync.Count == 0 || res.Scrape.Count == 0 || res.Check.Count == 0 {
		t.Fatalf("background calls: sync %d scrape %d check %d", res.Sync.Count, res.Scrape.Count, res.Check.Count)
	}
}

func TestScrapeBuildsTheBacklogFirst(t *testing.T) {
	cfg := tiny()
	res, err := RunScrape(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.DiskBytes < cfg.ScrapeBacklog || res.Gather.Count != uint64(cfg.Scrapes) || res.Stats.Count != uint64(cfg.Scrapes) {
		t.Fatalf("got %+v", res)
	}
}
