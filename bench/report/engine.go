package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/mm2go/mm2/bench/engine"
	"github.com/mm2go/mm2/bench/workload"
)

// Engine is mm2's own figures, measured in the same run (bench/engine).
type Engine struct {
	Quick      bool
	Config     engine.Config
	Policies   []engine.PolicyResult
	NewStreams *engine.NewStreamsResult
	Latency    *engine.LatencyResult
	Scrape     *engine.ScrapeResult
}

// The goals mm2's own figures are held to.
const (
	goalDiskBytesPerSample = 4.2
	goalNewStreams         = 50 * time.Millisecond
	goalWriteP99           = 50 * time.Microsecond
	goalScrape             = 10 * time.Millisecond
	goalScrapeBacklog      = 256 << 20
)

func writeEngine(b *strings.Builder, r Report) {
	e := r.Engine
	if e == nil {
		return
	}
	writePolicies(b, e)
	writeAlone(b, e)
}

func writePolicies(b *strings.Builder, e *Engine) {
	if len(e.Policies) == 0 {
		return
	}
	c := e.Config
	b.WriteString("## mm2 under each sync policy\n\n")
	fmt.Fprintf(b, "Each policy writes workload a's samples (%d streams × %d) into a new store, one child process each; the store is closed, "+
		"reopened, left idle for %s with Manager.Tick every %s (what a gateway's main loop calls), then drained and checked "+
		"(every sample back, in order). *Device B/sample* is `write_bytes` of `/proc/self/io` per sample, over the write phase and over the drain. "+
		"*Idle* is the bytes sent to the device while idle, per minute",
		c.Workload.Streams, c.Workload.SamplesPerStream, c.IdleFor, c.TickEvery)
	if c.IdleFor != time.Minute {
		fmt.Fprintf(b, " (measured over %s and scaled to a minute)", c.IdleFor)
	}
	b.WriteString(". The idle spells of all policies run at once, after every write run; so do their drains, whose rates are therefore not shown.\n\n")
	b.WriteString("| policy | samples | write samples/s | disk B/sample | empty store | device B/sample written | device bytes at Close | device B/sample drained | reopen | idle device bytes/minute | note |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, p := range e.Policies {
		w := p.Write
		note := w.Note
		if p.Err != "" {
			note = strings.TrimPrefix(note+"; ", "; ") + "**error: " + p.Err + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s |\n", p.Label, count(w.Written), count(int64(w.WriteRate())),
			w.BytesPerSample(), mb(w.DiskBytesEmpty), perSample(w.DeviceBytesPerWrite()), bytesOrUnknown(p.CloseDeviceBytes),
			perSample(w.DeviceBytesPerDrain()), duration(p.ReopenSeconds), idleFigure(p), cell(note))
	}
	b.WriteString("\n")
}

func idleFigure(p engine.PolicyResult) string {
	if p.IdleSeconds <= 0 {
		return "–"
	}
	v := p.IdleBytesPerMinute()
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%d ticks)", bytesOrUnknown(int64(v)), p.IdleTicks)
}

// bytesOrUnknown formats a byte count exactly below 10 KB (an idle store's goal is 0), in
// KB or MB above; a negative count is unknown.
func bytesOrUnknown(n int64) string {
	switch {
	case n < 0:
		return "–"
	case n < 10<<10:
		return fmt.Sprintf("%d B", n)
	}
	return mb(n)
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "/") }

func micro(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func writeAlone(b *strings.Builder, e *Engine) {
	c := e.Config
	if ns := e.NewStreams; ns != nil {
		b.WriteString("## mm2: new streams\n\n")
		fmt.Fprintf(b, "A new store (disk backend, %s) configures %d TSD streams, writing one sample to each right after its Configure, with the real clock.\n\n", ns.Policy, ns.Streams)
		b.WriteString("| streams | total | per stream | slowest Configure + first write | device bytes | note |\n|---:|---:|---:|---:|---:|---|\n")
		per := "–"
		if ns.Streams > 0 {
			per = micro(time.Duration(ns.Seconds * float64(time.Second) / float64(ns.Streams)))
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s |\n\n", ns.Streams, duration(ns.Seconds), per, micro(ns.Slowest),
			bytesOrUnknown(ns.DeviceBytes), errNote(ns.Err))
	}
	if l := e.Latency; l != nil {
		b.WriteString("## mm2: write latency while other goroutines sync, scrape and check\n\n")
		fmt.Fprintf(b, "A new store (%s) with %d streams: one writer is due to write %s samples a second, round-robin over the streams, for %s "+
			"(through the adapter, which sets the injected clock first; a stream's clock advances one period per round). Beside it, one goroutine calls Manager.Sync "+
			"(pausing %s between calls), one gathers mm2's Prometheus collector (`metrics` package: Manager.Stats and every Stream.Stats; pausing %s) and one runs "+
			"Manager.Check (pausing %s). *From its call* is each WriteTSD's own time. *With the writes due meanwhile* adds, for a call that took longer "+
			"than the interval between writes, the wait of every write that fell due during it (the call's time less k intervals, the standard correction for "+
			"coordinated omission): what mm2 made a sensor loop at a steady rate wait; the goal is stated on it. *From when due* starts each write when it was due: "+
			"it also counts the writer's own lateness, the harness's sleeps waking late included (on this machine a 1.1 ms sleep overshoots by about 1 ms at the "+
			"median when the process is otherwise idle), so it is shown but not judged. "+
			"Quantiles come from a histogram with buckets 3 %% wide.\n\n",
			l.Policy, l.Streams, count(int64(l.Rate)), c.LatencyFor, c.SyncEvery, c.ScrapeEvery, c.CheckEvery)
		b.WriteString("| call | count | p50 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|\n")
		for _, row := range []struct {
			name string
			s    engine.Summary
		}{{"WriteTSD, with the writes due meanwhile", l.WriteStall}, {"WriteTSD, from its call", l.Write}, {"WriteTSD, from when due", l.WriteDue}, {"Manager.Sync", l.Sync}, {"metrics scrape", l.Scrape}, {"Manager.Check", l.Check}} {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", row.name, count(int64(row.s.Count)), micro(row.s.P50), micro(row.s.P99), micro(row.s.P999), micro(row.s.MaxValue))
		}
		fmt.Fprintf(b, "\nDisk at the end: %s. %s\n\n", mb(l.DiskBytes), errNote(l.Err))
	}
	if s := e.Scrape; s != nil {
		b.WriteString("## mm2: a metrics scrape with a backlog on disk\n\n")
		fmt.Fprintf(b, "A new store (%s) with %d streams is written round-robin, %d samples per stream at a time, until it holds %s on disk",
			s.Policy, s.Streams, c.Workload.Batch, mb(c.ScrapeBacklog))
		if c.ScrapeBacklog != goalScrapeBacklog {
			fmt.Fprintf(b, " (the goal speaks of %s; this run is smaller)", mb(goalScrapeBacklog))
		}
		fmt.Fprintf(b, "; then each kind of scrape runs %d times.\n\n", c.Scrapes)
		fmt.Fprintf(b, "| scrape | streams | on disk | samples | p50 | max | note |\n|---|---:|---:|---:|---:|---:|---|\n")
		fmt.Fprintf(b, "| Prometheus gather of mm2's collector | %d | %s | %s | %s | %s | %s |\n", s.Streams, mb(s.DiskBytes), count(s.Samples),
			micro(s.Gather.P50), micro(s.Gather.MaxValue), errNote(s.Err))
		fmt.Fprintf(b, "| Manager.Stats and every Stream.Stats | %d | %s | %s | %s | %s | |\n\n", s.Streams, mb(s.DiskBytes), count(s.Samples),
			micro(s.Stats.P50), micro(s.Stats.MaxValue))
	}
}

func errNote(err string) string {
	if err == "" {
		return ""
	}
	return "**error: " + cell(err) + "**"
}

// goal is one row of the goals table; peer and ratio are "" where no peer compares.
type goal struct {
	figure, want, got, peer, ratio string
	met                            bool
}

// engineGoals are the rows of mm2's own goals.
func engineGoals(r Report) []goal {
	var out []goal
	for _, c := range r.Crashes {
		if c.System != Reference || c.Err != "" {
			continue
		}
		fig := "kill -9, synced (default policy + Sync per entry and ACK): lost / duplicated"
		if c.Durability != workload.Synced.String() {
			fig = "kill -9, default policy (the not synced rows): lost / duplicated"
		}
		out = append(out, goal{
			figure: fig, want: "0 / 0",
			got: fmt.Sprintf("%d / %d", c.Lost, c.Duplicated), met: c.Lost == 0 && c.Duplicated == 0,
		})
	}
	e := r.Engine
	if e == nil {
		return out
	}
	for _, p := range e.Policies {
		if p.Write.Written == 0 {
			continue
		}
		bps := p.Write.BytesPerSample()
		out = append(out, goal{figure: "disk B/sample, " + p.Label, want: fmt.Sprintf("≤ %.1f", goalDiskBytesPerSample),
			got: fmt.Sprintf("%.2f", bps), met: bps > 0 && bps <= goalDiskBytesPerSample})
	}
	for _, p := range e.Policies {
		if v := p.IdleBytesPerMinute(); v >= 0 && p.Err == "" {
			out = append(out, goal{figure: "idle store, device bytes a minute, " + p.Label, want: "0",
				got: bytesOrUnknown(int64(v)), met: v == 0})
		}
	}
	if ns := e.NewStreams; ns != nil && ns.Err == "" {
		d := time.Duration(ns.Seconds * float64(time.Second))
		out = append(out, goal{figure: fmt.Sprintf("configure and first write, %d new streams", ns.Streams),
			want: "≤ " + micro(goalNewStreams), got: micro(d), met: d <= goalNewStreams})
	}
	if l := e.Latency; l != nil && l.Err == "" {
		out = append(out, goal{figure: "p99 write latency (with the writes due meanwhile) beside Sync, scrape and Check", want: "≤ " + micro(goalWriteP99),
			got: micro(l.WriteStall.P99), met: l.WriteStall.P99 <= goalWriteP99})
	}
	if s := e.Scrape; s != nil && s.Err == "" {
		fig := fmt.Sprintf("metrics scrape (gather, max of %d), %d streams, %s on disk", s.Gather.Count, s.Streams, mb(s.DiskBytes))
		if s.DiskBytes < goalScrapeBacklog {
			fig += fmt.Sprintf(" (goal: with %s)", mb(goalScrapeBacklog))
		}
		out = append(out, goal{figure: fig, want: "≤ " + micro(goalScrape), got: micro(s.Gather.MaxValue),
			met: s.Gather.MaxValue <= goalScrape})
	}
	return out
}
