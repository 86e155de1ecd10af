package workload

import (
	"fmt"
	"sync"
	"time"
)

// Names of the workloads.
const (
	Bulk       = "a" // write N samples in batches, then drain with ACK
	Concurrent = "b" // producer and consumer at once for a fixed time
	Outage     = "c" // write until the store holds X bytes on disk, then drain
	Mixed      = "d" // as a, but a peer keeps one queue whose entries mix every stream
)

// Names lists the workloads in report order.
func Names() []string { return []string{Bulk, Concurrent, Outage, Mixed} }

// LayoutOf is the layout a store is opened with for workload name.
func LayoutOf(name string) Layout {
	if name == Mixed {
		return OneQueue
	}
	return PerStream
}

// Config sizes the workloads.
type Config struct {
	Streams          int           // independent FIFO queues (sensors)
	Batch            int           // records per Append: one entry per batch
	ReadBatch        int           // records asked for per Read
	SamplesPerStream int           // workloads a and d: samples written per stream
	ConcurrentFor    time.Duration // workload b: how long producer and consumer run
	OutageBytes      int64         // workload c: disk bytes to reach before draining
	PhaseLimit       time.Duration // a write or drain phase stops here, marked as capped
	PeriodMs         int64         // TSD sample period
	BaseUTC          int64         // UTC ms of the first sample of each stream
}

// Full is the published run: 500 streams × 20,000 samples = 10 M samples, a 256 MB outage.
func Full() Config {
	return Config{
		Streams:          500,
		Batch:            100,
		ReadBatch:        100,
		SamplesPerStream: 20_000,
		ConcurrentFor:    20 * time.Second,
		OutageBytes:      256 << 20,
		PhaseLimit:       180 * time.Second,
		PeriodMs:         1000,
		BaseUTC:          1_700_000_000_000,
	}
}

// Quick is the short run (a few minutes for everything on a 2-core machine).
func Quick() Config {
	c := Full()
	c.SamplesPerStream = 1_000
	c.ConcurrentFor = 2 * time.Second
	c.OutageBytes = 24 << 20
	c.PhaseLimit = 10 * time.Second
	return c
}

// Result is what one system scored on one workload in one durability variant.
type Result struct {
	System       string
	Durability   string
	Workload     string
	Written      int64   // samples appended
	Drained      int64   // samples read and acknowledged
	WriteSeconds float64 // wall time of the write phase (workload b: the whole window)
	DrainSeconds float64
	DiskBytes    int64 // on disk after writing, before draining (workload b: at the end)
	// DiskBytesEmpty is on disk after Open, before the first write.
	DiskBytesEmpty int64
	WriteMallocs   uint64 // heap allocations during the write phase
	DrainMallocs   uint64
	// DeviceWriteBytes and DeviceDrainBytes are the write_bytes of /proc/self/io during the
	// write and the drain phase (workload b: the whole window, in DeviceWriteBytes); -1 when
	// the kernel does not report them.
	DeviceWriteBytes int64
	DeviceDrainBytes int64
	// PeakRSS is the VmHWM of the process that ran it, in bytes. Not the rusage figure: that
	// one starts from the parent's high-water mark, which a child inherits across fork.
	PeakRSS     int64
	DrainCapped bool   // the drain stopped at the phase limit, not because the store was empty
	Note        string // capped phases and the like
	Err         string
}

// WriteRate is samples written per second.
func (r Result) WriteRate() float64 { return rate(r.Written, r.WriteSeconds) }

// DrainRate is samples drained per second.
func (r Result) DrainRate() float64 { return rate(r.Drained, r.DrainSeconds) }

// BytesPerSample is disk bytes per sample held.
func (r Result) BytesPerSample() float64 {
	held := r.Written
	if r.Workload == Concurrent {
		held = r.Written - r.Drained
	}
	if held <= 0 {
		return 0
	}
	return float64(r.DiskBytes) / float64(held)
}

// DeviceBytesPerWrite is bytes written to the device per sample written; -1 when unknown.
func (r Result) DeviceBytesPerWrite() float64 {
	if r.DeviceWriteBytes < 0 || r.Written <= 0 {
		return -1
	}
	return float64(r.DeviceWriteBytes) / float64(r.Written)
}

// DeviceBytesPerDrain is bytes written to the device per sample drained (the cost of reads
// and ACKs); -1 when unknown.
func (r Result) DeviceBytesPerDrain() float64 {
	if r.DeviceDrainBytes < 0 || r.Drained <= 0 {
		return -1
	}
	return float64(r.DeviceDrainBytes) / float64(r.Drained)
}

// AllocsPerWrite is heap allocations per sample written.
func (r Result) AllocsPerWrite() float64 { return rate(int64(r.WriteMallocs), float64(r.Written)) }

// AllocsPerDrain is heap allocations per sample drained.
func (r Result) AllocsPerDrain() float64 { return rate(int64(r.DrainMallocs), float64(r.Drained)) }

func rate(n int64, d float64) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d
}

// generator makes each stream's next batch of samples, or the next entry of samples of
// consecutive streams (workload d).
type generator struct {
	cfg    Config
	next   []uint64 // next sequence number per stream
	buf    []Record
	cursor int // workload d: the stream of the next entry's first record
}

func newGenerator(cfg Config) *generator {
	g := &generator{cfg: cfg, next: make([]uint64, cfg.Streams), buf: make([]Record, cfg.Batch)}
	for i := range g.next {
		g.next[i] = 1
	}
	return g
}

func (g *generator) batch(stream int) []Record {
	for i := range g.buf {
		g.buf[i] = g.record(stream)
	}
	return g.buf
}

// mixedBatch is the next entry of workload d: one sample of each of Batch consecutive
// streams, going round the streams as the entries go (what a buffer holding every sensor's
// readings of a flush interval stores).
func (g *generator) mixedBatch() []Record {
	for i := range g.buf {
		g.buf[i] = g.record(g.cursor)
		g.cursor = (g.cursor + 1) % g.cfg.Streams
	}
	return g.buf
}

func (g *generator) record(stream int) Record {
	seq := g.next[stream]
	g.next[stream]++
	return Record{
		Stream: uint16(stream),
		Seq:    seq,
		UTC:    g.cfg.BaseUTC + int64(seq-1)*g.cfg.PeriodMs,
		Value:  SampleValue(uint16(stream), seq),
	}
}

// SampleValue is the value of sample seq of stream: deterministic, so a reader can check it.
func SampleValue(stream uint16, seq uint64) uint32 {
	return uint32(seq*2654435761) ^ uint32(stream)<<20
}

// checker verifies that each stream is delivered in order, each sample once, intact.
type checker struct {
	cfg  Config
	want []uint64
}

func newChecker(cfg Config) *checker {
	c := &checker{cfg: cfg, want: make([]uint64, cfg.Streams)}
	for i := range c.want {
		c.want[i] = 1
	}
	return c
}

// check verifies recs read from queue. When the store keeps one queue per stream (mixed is
// false) queue i must deliver stream i only.
func (c *checker) check(queue int, mixed bool, recs []Record) error {
	for _, r := range recs {
		if int(r.Stream) >= len(c.want) || (!mixed && int(r.Stream) != queue) {
			return fmt.Errorf("queue %d: got stream %d seq %d, a stream it does not hold", queue, r.Stream, r.Seq)
		}
		w := c.want[r.Stream]
		if r.Seq != w {
			return fmt.Errorf("stream %d: got seq %d, want seq %d", r.Stream, r.Seq, w)
		}
		if r.Value != SampleValue(r.Stream, r.Seq) || r.UTC != c.cfg.BaseUTC+int64(r.Seq-1)*c.cfg.PeriodMs {
			return fmt.Errorf("stream %d seq %d: value or time differs", r.Stream, r.Seq)
		}
		c.want[r.Stream]++
	}
	return nil
}

// drain reads and acknowledges every queue round-robin until all are empty or the phase
// limit passes.
func drain(s Store, cfg Config, chk *checker, res *Result) error {
	dst := make([]Record, max(cfg.ReadBatch, cfg.Batch))
	queues := s.Queues()
	mixed := queues != cfg.Streams
	start := time.Now()
	m0 := Mallocs()
	dev := StartDeviceWrites()
	defer func() {
		res.DrainSeconds = time.Since(start).Seconds()
		res.DrainMallocs = Mallocs() - m0
		res.DeviceDrainBytes = dev.Written()
	}()
	for {
		got := false
		for q := range queues {
			n, err := s.Read(uint16(q), dst)
			if err != nil {
				return fmt.Errorf("read queue %d: %w", q, err)
			}
			if n == 0 {
				continue
			}
			got = true
			if err := chk.check(q, mixed, dst[:n]); err != nil {
				return err
			}
			acked, err := s.Ack(uint16(q))
			if err != nil {
				return fmt.Errorf("ack queue %d: %w", q, err)
			}
			if acked != n {
				return fmt.Errorf("ack queue %d: acked %d, read %d", q, acked, n)
			}
			res.Drained += int64(n)
		}
		if !got {
			return nil
		}
		if time.Since(start) > cfg.PhaseLimit {
			addNote(res, fmt.Sprintf("drain capped at %s", cfg.PhaseLimit.Round(time.Second/10)))
			res.DrainCapped = true
			return nil
		}
	}
}

func addNote(res *Result, note string) {
	if res.Note != "" {
		res.Note += "; "
	}
	res.Note += note
}

// RunBulk is workload a: SamplesPerStream samples per stream written round-robin in batches,
// then everything drained with ACK.
func RunBulk(s Store, cfg Config, res *Result) error {
	if err := WriteBulk(s, cfg, res); err != nil {
		return err
	}
	return Drain(s, cfg, res)
}

// Drain reads and acknowledges everything the store holds (what WriteBulk wrote, perhaps
// across a reopen), checking every record, until it is empty or the phase limit passes.
func Drain(s Store, cfg Config, res *Result) error {
	return drain(s, cfg, newChecker(cfg), res)
}

// measureEmpty takes the disk bytes of the store before anything is written: what it
// preallocates (a journal, a first segment) counts in its bytes per sample, amortized only
// over a long run.
func measureEmpty(s Store, res *Result) error {
	var err error
	res.DiskBytesEmpty, err = s.DiskBytes()
	return err
}

// WriteBulk is the write phase of workload a; it ends with the disk bytes measured.
func WriteBulk(s Store, cfg Config, res *Result) error {
	res.Workload = Bulk
	if err := measureEmpty(s, res); err != nil {
		return err
	}
	gen := newGenerator(cfg)
	rounds := cfg.SamplesPerStream / cfg.Batch
	start := time.Now()
	m0 := Mallocs()
	dev := StartDeviceWrites()
write:
	for r := 0; r < rounds; r++ {
		for st := range cfg.Streams {
			if err := s.Append(uint16(st), gen.batch(st)); err != nil {
				return fmt.Errorf("append stream %d: %w", st, err)
			}
			res.Written += int64(cfg.Batch)
			// Checked per entry: a store that syncs every sample takes seconds per round.
			if time.Since(start) > cfg.PhaseLimit && (r+1 < rounds || st+1 < cfg.Streams) {
				addNote(res, fmt.Sprintf("write capped at %s", cfg.PhaseLimit.Round(time.Second/10)))
				break write
			}
		}
	}
	res.WriteMallocs = Mallocs() - m0
	res.WriteSeconds = time.Since(start).Seconds()
	res.DeviceWriteBytes = dev.Written()
	var err error
	res.DiskBytes, err = s.DiskBytes()
	return err
}

// RunMixed is workload d: the samples of workload a, written as entries of Batch samples of
// consecutive streams to queue 0 (a peer keeps them as they come, in one queue; mm2 writes
// each to its stream), then everything drained with ACK.
func RunMixed(s Store, cfg Config, res *Result) error {
	res.Workload = Mixed
	if err := measureEmpty(s, res); err != nil {
		return err
	}
	gen := newGenerator(cfg)
	entries := cfg.Streams * cfg.SamplesPerStream / cfg.Batch
	start := time.Now()
	m0 := Mallocs()
	dev := StartDeviceWrites()
	for e := 0; e < entries; e++ {
		if err := s.Append(0, gen.mixedBatch()); err != nil {
			return fmt.Errorf("append entry %d: %w", e, err)
		}
		res.Written += int64(cfg.Batch)
		if time.Since(start) > cfg.PhaseLimit && e+1 < entries {
			addNote(res, fmt.Sprintf("write capped at %s", cfg.PhaseLimit.Round(time.Second/10)))
			break
		}
	}
	res.WriteMallocs = Mallocs() - m0
	res.WriteSeconds = time.Since(start).Seconds()
	res.DeviceWriteBytes = dev.Written()
	var err error
	if res.DiskBytes, err = s.DiskBytes(); err != nil {
		return err
	}
	return drain(s, cfg, newChecker(cfg), res)
}

// RunOutage is workload c: write round-robin until the store occupies OutageBytes on disk,
// then drain everything.
func RunOutage(s Store, cfg Config, res *Result) error {
	res.Workload = Outage
	if err := measureEmpty(s, res); err != nil {
		return err
	}
	gen := newGenerator(cfg)
	start := time.Now()
	m0 := Mallocs()
	dev := StartDeviceWrites()
	for {
		for st := range cfg.Streams {
			if err := s.Append(uint16(st), gen.batch(st)); err != nil {
				return fmt.Errorf("append stream %d: %w", st, err)
			}
			res.Written += int64(cfg.Batch)
		}
		used, err := s.DiskBytes()
		if err != nil {
			return err
		}
		res.DiskBytes = max(res.DiskBytes, used)
		if used >= cfg.OutageBytes {
			break
		}
		if time.Since(start) > cfg.PhaseLimit {
			addNote(res, fmt.Sprintf("write capped at %s (%.0f MB on disk)", cfg.PhaseLimit.Round(time.Second/10), float64(used)/(1<<20)))
			break
		}
	}
	res.WriteMallocs = Mallocs() - m0
	res.WriteSeconds = time.Since(start).Seconds()
	res.DeviceWriteBytes = dev.Written()
	return drain(s, cfg, newChecker(cfg), res)
}

// RunConcurrent is workload b: one producer appending round-robin and one consumer reading
// and acknowledging round-robin, both for ConcurrentFor.
func RunConcurrent(s Store, cfg Config, res *Result) error {
	res.Workload = Concurrent
	if err := measureEmpty(s, res); err != nil {
		return err
	}
	deadline := time.Now().Add(cfg.ConcurrentFor)
	start := time.Now()
	m0 := Mallocs()
	dev := StartDeviceWrites()
	res.DeviceDrainBytes = -1 // not separable from the writes
	var wg sync.WaitGroup
	var werr, rerr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		gen := newGenerator(cfg)
		for time.Now().Before(deadline) {
			for st := range cfg.Streams {
				if err := s.Append(uint16(st), gen.batch(st)); err != nil {
					werr = fmt.Errorf("append stream %d: %w", st, err)
					return
				}
				res.Written += int64(cfg.Batch)
			}
		}
	}()
	go func() {
		defer wg.Done()
		chk := newChecker(cfg)
		dst := make([]Record, max(cfg.ReadBatch, cfg.Batch))
		for time.Now().Before(deadline) {
			got := false
			for st := range cfg.Streams {
				n, err := s.Read(uint16(st), dst)
				if err != nil {
					rerr = fmt.Errorf("read stream %d: %w", st, err)
					return
				}
				if n == 0 {
					continue
				}
				got = true
				if err := chk.check(st, false, dst[:n]); err != nil {
					rerr = err
					return
				}
				if _, err := s.Ack(uint16(st)); err != nil {
					rerr = fmt.Errorf("ack stream %d: %w", st, err)
					return
				}
				res.Drained += int64(n)
			}
			if !got {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	res.WriteSeconds, res.DrainSeconds = elapsed, elapsed
	total := Mallocs() - m0
	res.WriteMallocs = total // not separable between the two goroutines
	res.DeviceWriteBytes = dev.Written()
	if werr != nil {
		return werr
	}
	if rerr != nil {
		return rerr
	}
	var err error
	res.DiskBytes, err = s.DiskBytes()
	return err
}

// Run runs the named workload.
func Run(name string, s Store, cfg Config, res *Result) error {
	switch name {
	case Bulk:
		return RunBulk(s, cfg, res)
	case Concurrent:
		return RunConcurrent(s, cfg, res)
	case Outage:
		return RunOutage(s, cfg, res)
	case Mixed:
		return RunMixed(s, cfg, res)
	}
	return fmt.Errorf("unknown workload %q", name)
}
