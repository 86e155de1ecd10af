// Package report writes the comparison's results as markdown.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mm2go/mm2"

	"github.com/mm2go/mm2/bench/limits"
	"github.com/mm2go/mm2/bench/workload"
)

// Reference is the system the ratios divide by.
const Reference = "mm2"

// System describes one compared system.
type System struct {
	Name, UsedBy, Layout string
	Unavailable          string // why it did not run; "" when it ran
}

// Crash is one kill -9 test.
type Crash struct {
	System, Durability string
	workload.CrashResult
	Err string
}

// Report is everything one run of the comparison measured.
type Report struct {
	Title    string
	Quick    bool
	Machine  Machine
	Commands []string
	Config   workload.Config
	Limits   limits.Limits
	Systems  []System
	Results  []workload.Result
	Crashes  []Crash
	Engine   *Engine // mm2's own figures; nil when not measured
	Started  time.Time
	Elapsed  time.Duration
}

// Write renders r as markdown.
func Write(w io.Writer, r Report) error {
	b := &strings.Builder{}
	title := r.Title
	if title == "" {
		title = "Benchmarks: mm2 against the stores users pick instead"
	}
	fmt.Fprintf(b, "# %s\n\n", title)
	run := "full"
	if r.Quick {
		run = "quick (-quick: smaller sizes, not the published figures)"
	}
	fmt.Fprintf(b, "Run: %s, started %s, took %s.\n\n", run, r.Started.UTC().Format(time.RFC3339), r.Elapsed.Round(time.Second))
	writeMachine(b, r)
	writeSetup(b, r)
	writeLimits(b, r.Limits, r.Config.Batch)
	writeWorkload(b, r, workload.Bulk, "Workload a: write, then drain with ACK")
	writeWorkload(b, r, workload.Concurrent, "Workload b: producer and consumer at once")
	writeWorkload(b, r, workload.Outage, "Workload c: long outage, then drain")
	writeWorkload(b, r, workload.Mixed, "Workload d: one queue of entries mixing every stream, then drain")
	writeCrashes(b, r)
	writeEngine(b, r)
	writeRatios(b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMachine(b *strings.Builder, r Report) {
	m := r.Machine
	fmt.Fprintf(b, "## Machine\n\n")
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	fmt.Fprintf(b, "| CPU | %s |\n| cores | %d |\n| memory | %s |\n| Go | %s |\n| kernel | %s |\n| OS/arch | %s |\n| filesystem of the data directory | %s |\n",
		m.CPU, m.Cores, m.Memory, m.GoVersion, m.Kernel, m.OSArch, m.Filesystem)
	fmt.Fprintf(b, "| load average (1, 5, 15 min) at start / end | %s / %s |\n\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(b, "A load average above the number of cores means other work shared the machine during the run: "+
		"rates are then lower and noisier than on an idle machine (synced ones most, as the disk is shared too).\n\n")
	fmt.Fprintf(b, "Commands:\n\n```\n%s\n```\n\n", strings.Join(r.Commands, "\n"))
}

func writeSetup(b *strings.Builder, r Report) {
	c := r.Config
	fmt.Fprintf(b, "## Setup\n\n")
	fmt.Fprintf(b, "- Every system runs in a child process of its own (peak RSS is that process's), on a fresh directory. The runs go round the systems (every system's run of a workload and durability, then the next), so that what the machine does meanwhile falls on all of them alike; before each child starts, the parent calls sync(2), so that the data earlier runs left dirty in the page cache is not written back during its timing.\n")
	fmt.Fprintf(b, "- Records: %d streams of 4-byte TSD samples (period %d ms). Peers store each record packed in %d bytes "+
		"(6-byte sequence, 6-byte UTC ms, 4-byte value; the stream is the queue or key prefix): kinder to them than their real "+
		"encodings. One entry per append of %d samples; reads ask for up to %d samples, each read is acknowledged before the next.\n",
		c.Streams, c.PeriodMs, workload.PackedSize, c.Batch, c.ReadBatch)
	workloads := map[string]string{
		workload.Bulk: fmt.Sprintf("%d samples per stream (%s samples), written round-robin, then drained round-robin with ACK",
			c.SamplesPerStream, count(int64(c.SamplesPerStream*c.Streams))),
		workload.Concurrent: fmt.Sprintf("one producer and one consumer goroutine for %s", c.ConcurrentFor),
		workload.Outage:     fmt.Sprintf("written round-robin until the store occupies %s on disk, then drained", mb(c.OutageBytes)),
		workload.Mixed: fmt.Sprintf("the samples of workload a, written as entries of %d samples of consecutive streams (one sample of each of %d streams, "+
			"going round the streams), as Telegraf's disk buffer and the OpenTelemetry persistent queue hold every sensor's readings. "+
			"Each peer keeps them as they come, in one queue, %d bytes per record (the 2-byte stream number added), and drains that queue entry by entry; "+
			"mm2 writes each sample to its own stream and drains stream by stream, as its uplink does", c.Batch, c.Batch, workload.MixedPackedSize),
	}
	for _, name := range workload.Names() {
		if ranWorkload(r, name) {
			fmt.Fprintf(b, "- Workload %s: %s.\n", name, workloads[name])
		}
	}
	fmt.Fprintf(b, "- A phase still running after %s stops and is marked capped; its rate is over what it did. "+
		"With a time budget (-budget; -quick has one) each run's cap is lowered to share what is left of it; the notes give the cap.\n", c.PhaseLimit)
	fmt.Fprintf(b, "- Durability: *synced* = every append and every ack is on stable storage when it returns (mm2: its default sync policy, %s, "+
		"plus Manager.Sync after every append of an entry and every ack); *not synced* = the peers fsync nothing, mm2 runs its default sync policy (%s).\n",
		mm2.SyncPolicy{}, mm2.SyncPolicy{})
	fmt.Fprintf(b, "- Every drained sample is checked: right stream, sequence in order with no gap or repeat, right value and time.\n")
	fmt.Fprintf(b, "- Disk bytes are allocated blocks of every file in the store's directory, after writing and before draining. "+
		"*Empty store* is what the store occupied after Open, before its first write (preallocated files): it is counted in the bytes per sample, "+
		"a fixed cost that a longer run spreads over more samples.\n")
	fmt.Fprintf(b, "- Device bytes are `write_bytes` of the child's `/proc/self/io` over the write phase: what the process sent, or will send, to the block device. "+
		"The kernel charges a page when it is first dirtied, so a page rewritten after it was flushed counts again (that is the flash wear); "+
		"a page dirtied and deleted before it was flushed counts too. – means the kernel did not report it.\n\n")
	fmt.Fprintf(b, "| system | as used by | how the adapter uses it |\n|---|---|---|\n")
	for _, s := range r.Systems {
		layout := s.Layout
		if s.Unavailable != "" {
			layout += " — **did not run: " + s.Unavailable + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", s.Name, s.UsedBy, layout)
	}
	b.WriteString("\n")
}

func writeLimits(b *strings.Builder, l limits.Limits, batch int) {
	fmt.Fprintf(b, "## Physical limits (same run)\n\n")
	fmt.Fprintf(b, "| what | measured |\n|---|---|\n")
	fmt.Fprintf(b, "| sequential write, fsync per %d KB (%s) | %s/s |\n", l.Chunk>>10, mb(l.DiskBytes), mb(int64(l.DiskSyncedBps)))
	fmt.Fprintf(b, "| sequential write, no fsync (%s) | %s/s |\n", mb(l.DiskBytes), mb(int64(l.DiskUnsyncedBps)))
	fmt.Fprintf(b, "| 4 KB append + fsync | %s syncs/s |\n", count(int64(l.SyncsPerSec)))
	fmt.Fprintf(b, "| ceiling of a store that syncs once per %d-sample entry (syncs/s × %d) | %s samples/s |\n",
		batch, batch, count(int64(l.SyncsPerSec*float64(batch))))
	fmt.Fprintf(b, "| memory copy (%s buffer) | %s/s |\n\n", mb(int64(l.CopyBytes)), mb(int64(l.MemCopyBps)))
}

// diskShare is the store's disk write rate as a share of the matching sequential limit.
func diskShare(res workload.Result, l limits.Limits) string {
	if res.WriteSeconds <= 0 || res.DiskBytes <= 0 {
		return "–"
	}
	bps := float64(res.DiskBytes) / res.WriteSeconds
	limit := l.DiskUnsyncedBps
	if res.Durability == workload.Synced.String() {
		limit = l.DiskSyncedBps
	}
	if limit <= 0 {
		return mb(int64(bps)) + "/s"
	}
	return fmt.Sprintf("%s/s (%.1f %%)", mb(int64(bps)), 100*bps/limit)
}

func ranWorkload(r Report, name string) bool {
	for _, res := range r.Results {
		if res.Workload == name {
			return true
		}
	}
	return false
}

func writeWorkload(b *strings.Builder, r Report, name, title string) {
	if !ranWorkload(r, name) {
		return
	}
	fmt.Fprintf(b, "## %s\n\n", title)
	if name == workload.Concurrent {
		b.WriteString("| system | durability | written samples/s | drained samples/s | backlog at end | disk at end | device B/sample written | allocs/sample written | peak RSS | note |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	} else {
		b.WriteString("| system | durability | samples | write samples/s | drain samples/s | disk B/sample | empty store | device B/sample written | disk write rate (% of limit) | allocs/sample write | allocs/sample drain | peak RSS | note |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	}
	for _, res := range r.Results {
		if res.Workload != name {
			continue
		}
		note := res.Note
		if res.Err != "" {
			note = strings.TrimPrefix(note+"; ", "; ") + "**error: " + res.Err + "**"
		}
		note = strings.ReplaceAll(note, "|", "/")
		if name == workload.Concurrent {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s |\n", res.System, res.Durability,
				count(int64(res.WriteRate())), count(int64(res.DrainRate())), count(res.Written-res.Drained),
				mb(res.DiskBytes), perSample(res.DeviceBytesPerWrite()), res.AllocsPerWrite(), mb(res.PeakRSS), note)
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %.2f | %s | %s | %s | %.2f | %.2f | %s | %s |\n", res.System, res.Durability,
			count(res.Written), count(int64(res.WriteRate())), count(int64(res.DrainRate())), res.BytesPerSample(),
			mb(res.DiskBytesEmpty), perSample(res.DeviceBytesPerWrite()), diskShare(res, r.Limits), res.AllocsPerWrite(), res.AllocsPerDrain(), mb(res.PeakRSS), note)
	}
	b.WriteString("\n")
}

func writeCrashes(b *strings.Builder, r Report) {
	if len(r.Crashes) == 0 {
		return
	}
	fmt.Fprintf(b, "## kill -9 while writing\n\n")
	fmt.Fprintf(b, "A child process writes round-robin and reads and acks every other round, printing each stored and each acked "+
		"position; it is killed with SIGKILL, then the store is reopened and drained. *Lost*: reported stored, never acked, "+
		"not delivered. *Duplicated*: acked before the kill yet delivered again. A process kill leaves the page cache "+
		"intact: this tests what reached the operating system, not what reached the disk; a power cut can cost a *not synced* "+
		"store everything written since the operating system last flushed it.\n\n")
	b.WriteString("| system | durability | reported stored | delivered after reopen | lost | duplicated | corrupt | reopen time | note |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, c := range r.Crashes {
		note := ""
		if c.Err != "" {
			note = "**error: " + strings.ReplaceAll(c.Err, "|", "/") + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %d | %d | %s | %s |\n", c.System, c.Durability, count(c.Reported),
			count(c.Recovered), c.Lost, c.Duplicated, c.Corrupt, duration(c.ReopenSeconds), note)
	}
	b.WriteString("\n")
}

// perSample formats a bytes-per-sample figure; a negative one is unknown.
func perSample(v float64) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func duration(sec float64) string {
	switch {
	case sec <= 0:
		return "–"
	case sec < 1:
		return fmt.Sprintf("%.1f ms", sec*1000)
	}
	return fmt.Sprintf("%.2f s", sec)
}

// count formats n with a k/M suffix.
func count(n int64) string {
	f := float64(n)
	switch {
	case f >= 1e6 || f <= -1e6:
		return fmt.Sprintf("%.2f M", f/1e6)
	case f >= 1e4 || f <= -1e4:
		return fmt.Sprintf("%.1f k", f/1e3)
	}
	return fmt.Sprintf("%d", n)
}

// mb formats a byte count in binary megabytes (or GB).
func mb(n int64) string {
	f := float64(n)
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.2f GB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.1f MB", f/(1<<20))
	}
	return fmt.Sprintf("%.1f KB", f/(1<<10))
}
