package mm2_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// spillStore is a linux disk store on a clock the caller moves: each write
// moves it on by one period, so TSD samples land on their slots.
type spillStore struct {
	m   *mm2.Manager
	clk *testClock
}

func openSpillStore(tb testing.TB, fsys vfs.FS, opts mm2.Options) *spillStore {
	tb.Helper()
	st := &spillStore{clk: newClock(0)}
	opts.Clock = st.clk.now
	st.m = openStore(tb, opts, fsys)
	return st
}

// fillPast fills the RAM pool to the spill threshold with a stream of its
// own that is never read, so every new sector of another stream goes to disk.
func (st *spillStore) fillPast(tb testing.TB, percent int) {
	tb.Helper()
	s, err := st.m.Configure(mm2.StreamID{Source: mm2.Hosted, Sensor: 999}, mm2.TSD, 10*time.Millisecond)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; ; i++ {
		if i%8 == 0 {
			if x := st.m.Stats(); x.SectorsUsed*100 >= percent*x.SectorsTotal {
				return
			} else if i > 100*x.SectorsTotal {
				tb.Fatalf("pool at %d of %d sectors after %d writes", x.SectorsUsed, x.SectorsTotal, i)
			}
		}
		st.clk.add(10)
		if err := s.WriteTSD(uint32(i)); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkSpillWrite measures samples per second through the disk tier: a
// linux store on the real filesystem whose pool is already past the spill
// threshold, so every sample goes to a frame of the segment log. The batch
// cases write 100 samples of the stream per Manager.WriteBatch.
func BenchmarkSpillWrite(b *testing.B) {
	for _, bc := range []struct {
		name  string
		kind  mm2.Kind
		batch int
	}{{"tsd", mm2.TSD, 0}, {"evt", mm2.EVT, 0}, {"tsd-batch100", mm2.TSD, 100}, {"evt-batch100", mm2.EVT, 100}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			st := openSpillStore(b, vfs.OS(), mm2.Options{Dir: filepath.Join(b.TempDir(), "store")})
			defer st.m.Close()
			st.fillPast(b, mm2.DefaultSpillPercent)
			period := time.Duration(0)
			if bc.kind == mm2.TSD {
				period = 100 * time.Millisecond
			}
			s, err := st.m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, bc.kind, period)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			gaps := make([]int64, 1024) // event spacing: 1 ms to 2 s
			for i := range gaps {
				gaps[i] = 1 + rng.Int64N(2000)
				if bc.kind == mm2.TSD {
					gaps[i] = 100
				}
			}
			batch := make([]mm2.Write, 0, bc.batch)
			before := st.m.Stats()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				st.clk.add(gaps[i%len(gaps)])
				switch {
				case bc.batch > 0:
					batch = append(batch, mm2.Write{Stream: s, Value: uint32(i), UTCms: st.clk.at()})
					if len(batch) == bc.batch || i == b.N-1 {
						_, err = st.m.WriteBatch(batch)
						batch = batch[:0]
					}
				case bc.kind == mm2.TSD:
					err = s.WriteTSD(uint32(i))
				default:
					err = s.WriteEVT(uint32(i), st.clk.at())
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if err := st.m.Sync(); err != nil { // the frame being filled reaches disk too
				b.Fatal(err)
			}
			after := st.m.Stats()
			if disk := after.DiskRecords - before.DiskRecords; disk != uint64(b.N) {
				b.Fatalf("%d of %d samples went to disk", disk, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "samples/s")
			b.ReportMetric(float64(after.DiskBytes)/float64(after.DiskRecords), "disk-B/sample")
		})
	}
}

// buildRecoverStore fills a store to the default disk cap of 256 MB (16 TSD
// and 4 EVT streams, a full pool) with SyncOnPowerDown and closes it.
func buildRecoverStore(b *testing.B, dir string) {
	b.Helper()
	st := openSpillStore(b, vfs.OS(), mm2.Options{Dir: dir, Sync: mm2.SyncOnPowerDown()})
	var hs []*mm2.Stream
	for i := 0; i < 20; i++ {
		kind, period := mm2.TSD, 10*time.Millisecond
		if i >= 16 {
			kind, period = mm2.EVT, 0
		}
		s, err := st.m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, kind, period)
		if err != nil {
			b.Fatal(err)
		}
		hs = append(hs, s)
	}
	for round := 0; ; round++ {
		if round%4096 == 0 && st.m.Stats().DiskBytes >= mm2.DefaultDiskCapBytes-mm2.DefaultSegmentBytes {
			break
		}
		st.clk.add(10)
		for i, s := range hs {
			var err error
			if i < 16 {
				err = s.WriteTSD(uint32(round*20 + i))
			} else if round%4 == i-16 {
				err = s.WriteEVT(uint32(round), st.clk.at())
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := st.m.Close(); err != nil {
		b.Fatal(err)
	}
}

// readStore reads every file of the store and returns the bytes read.
func readStore(b *testing.B, dir string) int64 {
	b.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(data))
	}
	return n
}

// BenchmarkRecoverOpen measures Open (recovery of every segment) and Close
// of a store full at the default disk cap of 256 MB, written once, and next
// to it the time to simply read every file of the store: open/read is the
// ratio of the two speeds (the target is at least 1/3).
func BenchmarkRecoverOpen(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "store")
	start := time.Now()
	buildRecoverStore(b, dir)
	b.Logf("built the store in %v", time.Since(start).Round(time.Millisecond))
	b.Run("256MB", func(b *testing.B) {
		b.ReportAllocs()
		size := readStore(b, dir) // and warm the page cache, as Open finds it
		b.SetBytes(size)
		var recovered uint64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m, err := mm2.Open(mm2.Options{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			recovered = m.Stats().RecordsRecovered
			if err := m.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		perOpen := b.Elapsed() / time.Duration(b.N)
		read := time.Duration(1<<63 - 1)
		for i := 0; i < 3; i++ {
			t0 := time.Now()
			readStore(b, dir)
			read = min(read, time.Since(t0))
		}
		mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
		b.ReportMetric(mbps(read), "read-MB/s")
		b.ReportMetric(mbps(perOpen)/mbps(read), "open/read")
		b.ReportMetric(float64(recovered), "records")
	})
}

// BenchmarkPowerDown measures PowerDown of a disk store whose 64 KB pool is
// full with 2,048 streams, each also holding a frame being filled: every
// frame is written, the log synced and the checkpoint (cursors and the RAM
// tier) written.
func BenchmarkPowerDown(b *testing.B) {
	b.ReportAllocs()
	const streams = 2048
	root := b.TempDir()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(root, fmt.Sprintf("store-%d", i))
		st := openSpillStore(b, vfs.OS(), mm2.Options{Dir: dir, SpillPercent: 100})
		hs := make([]*mm2.Stream, streams)
		for k := range hs {
			var err error
			if hs[k], err = st.m.Configure(mm2.StreamID{Source: mm2.Source(k % mm2.MaxSources), Sensor: uint32(k)}, mm2.TSD, time.Second); err != nil {
				b.Fatal(err)
			}
		}
		// A full sector each (6 samples), then 10 samples staged for disk.
		for round := 0; round < 16; round++ {
			st.clk.add(1000)
			for _, s := range hs {
				if err := s.WriteTSD(uint32(round)); err != nil {
					b.Fatal(err)
				}
			}
		}
		if x := st.m.Stats(); x.SectorsFree != 0 || x.DiskRecords != streams*10 {
			b.Fatalf("pool not full or disk parts missing: %d free sectors, %d records for disk", x.SectorsFree, x.DiskRecords)
		}
		b.StartTimer()
		if err := st.m.PowerDown(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := st.m.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// TestBytesOnDiskPerSample measures, at steady state through the disk tier
// (pool past the spill threshold, every sample in a frame of the log), the
// bytes on disk per sample and the write amplification: bytes written to
// disk over payload bytes (4 per TSD sample, 12 per event: value and
// timestamp). Targets, under the default SyncOnPowerDown: at most 6.0 bytes
// a TSD sample and 16 an event (the original spent about 12 and 36).
func TestBytesOnDiskPerSample(t *testing.T) {
	cases := []struct {
		name    string
		kind    mm2.Kind
		payload float64
		limit   float64 // 0: reported, not checked
		sync    mm2.SyncPolicy
		rounds  int
	}{
		{"tsd", mm2.TSD, 4, 6.0, mm2.SyncOnPowerDown(), 50000},
		{"evt", mm2.EVT, 12, 16, mm2.SyncOnPowerDown(), 50000},
		// SyncAlways writes every record as a frame of its own: for the record.
		{"tsd-sync-always", mm2.TSD, 4, 0, mm2.SyncAlways(), 500},
		{"evt-sync-always", mm2.EVT, 12, 0, mm2.SyncAlways(), 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := openSpillStore(t, vfs.NewMem(), mm2.Options{Dir: "store", Sync: c.sync})
			defer st.m.Close()
			if c.sync != mm2.SyncAlways() { // SyncAlways sends every record to disk
				st.fillPast(t, mm2.DefaultSpillPercent)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			var hs []*mm2.Stream
			for i := 0; i < 4; i++ {
				period := time.Duration(0)
				if c.kind == mm2.TSD {
					period = 100 * time.Millisecond
				}
				s, err := st.m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, c.kind, period)
				if err != nil {
					t.Fatal(err)
				}
				hs = append(hs, s)
			}
			write := func(n int) {
				for i := 0; i < n; i++ {
					for _, s := range hs {
						var err error
						if c.kind == mm2.TSD {
							err = s.WriteTSD(rng.Uint32())
						} else {
							err = s.WriteEVT(rng.Uint32(), st.clk.at()+rng.Int64N(50))
						}
						if err != nil {
							t.Fatal(err)
						}
					}
					if c.kind == mm2.TSD {
						st.clk.add(100)
					} else {
						st.clk.add(1 + rng.Int64N(2000)) // events 1 ms to 2 s apart
					}
				}
			}
			write(c.rounds / 10) // past the first segments and checkpoints
			if err := st.m.Sync(); err != nil {
				t.Fatal(err)
			}
			before := st.m.Stats()
			rounds := c.rounds
			write(rounds)
			if err := st.m.Sync(); err != nil {
				t.Fatal(err)
			}
			after := st.m.Stats()
			samples := after.DiskRecords - before.DiskRecords
			if samples != uint64(rounds*len(hs)) {
				t.Fatalf("%d of %d samples went to disk", samples, rounds*len(hs))
			}
			perSample := float64(after.DiskBytes-before.DiskBytes) / float64(samples)
			amp := float64(after.BytesWritten-before.BytesWritten) / (float64(samples) * c.payload)
			t.Logf("%s: %.2f bytes on disk per sample (store: %d bytes for %d records), write amplification %.3f (%d bytes written for %d samples of %g payload bytes)",
				c.name, perSample, after.DiskBytes, after.DiskRecords, amp, after.BytesWritten-before.BytesWritten, samples, c.payload)
			if c.limit > 0 && perSample > c.limit {
				t.Errorf("%s: %.2f bytes on disk per sample, want at most %.1f", c.name, perSample, c.limit)
			}
		})
	}
}

// BenchmarkDurableWrites measures writes that are durable when they return:
// SyncAlways with one writer and with 8 concurrent writers (group commit:
// the writers share msyncs of the journal), and the default policy with a
// Sync() per 100 samples (a batch made durable at once). syncs/sample shows
// how much the group commit shares.
func BenchmarkDurableWrites(b *testing.B) {
	run := func(b *testing.B, pol mm2.SyncPolicy, writers, syncEvery int) {
		b.ReportAllocs()
		st := openSpillStore(b, vfs.OS(), mm2.Options{Dir: filepath.Join(b.TempDir(), "store"), Sync: pol})
		defer st.m.Close()
		streams := make([]*mm2.Stream, writers)
		for i := range streams {
			s, err := st.m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, mm2.EVT, 0)
			if err != nil {
				b.Fatal(err)
			}
			streams[i] = s
		}
		before := st.m.Stats()
		b.ResetTimer()
		start := time.Now()
		done := make(chan error, writers)
		for w := range writers {
			go func(s *mm2.Stream, n int) {
				for i := 0; i < n; i++ {
					if err := s.WriteEVT(uint32(i), int64(i)); err != nil {
						done <- err
						return
					}
					if syncEvery > 0 && (i+1)%syncEvery == 0 {
						if err := st.m.Sync(); err != nil {
							done <- err
							return
						}
					}
				}
				done <- nil
			}(streams[w], b.N/writers+1)
		}
		for range writers {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		after := st.m.Stats()
		n := float64(writers * (b.N/writers + 1))
		b.ReportMetric(n/elapsed.Seconds(), "samples/s")
		b.ReportMetric(float64(after.Syncs-before.Syncs)/n, "syncs/sample")
	}
	b.Run("always/1-writer", func(b *testing.B) { run(b, mm2.SyncAlways(), 1, 0) })
	b.Run("always/8-writers", func(b *testing.B) { run(b, mm2.SyncAlways(), 8, 0) })
	b.Run("sync-per-100", func(b *testing.B) { run(b, mm2.SyncOnPowerDown(), 1, 100) })
	b.Run("not-synced", func(b *testing.B) { run(b, mm2.SyncOnPowerDown(), 1, 0) })
}

// BenchmarkDrainDisk measures the uplink's drain of a spilled store: 500 TSD
// streams written round-robin, one WriteBatch of 100 samples (one of each of
// 100 streams) at a time, past the spill threshold so nearly all of it is
// in segments; then, timed, ReadBulk of up to 100 and Ack of each stream in
// turn, round-robin, until the store is empty. ns/op is per sample.
func BenchmarkDrainDisk(b *testing.B) {
	const streams, perStream = 500, 1000
	b.ReportAllocs()
	dst := make([]mm2.Sample, 100)
	for b.Loop() {
		b.StopTimer()
		st := openSpillStore(b, vfs.OS(), mm2.Options{Dir: filepath.Join(b.TempDir(), "store")})
		hs := configureTSD(b, st.m, streams)
		batch := make([]mm2.Write, 0, 100)
		for round := 0; round < perStream; round++ {
			for i, s := range hs {
				batch = append(batch, mm2.Write{Stream: s, Value: uint32(round), UTCms: int64(round) * 1000})
				if len(batch) == cap(batch) || i == len(hs)-1 {
					if _, err := st.m.WriteBatch(batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
		}
		if st.m.Stats().DiskRecords < streams*perStream/2 {
			b.Fatalf("only %d records on disk", st.m.Stats().DiskRecords)
		}
		b.StartTimer()
		left := streams * perStream
		for left > 0 {
			for _, s := range hs {
				n, err := s.ReadBulk(dst)
				if errors.Is(err, mm2.ErrNoData) {
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Ack(); err != nil {
					b.Fatal(err)
				}
				left -= n
			}
		}
		b.StopTimer()
		if err := st.m.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streams*perStream), "ns/sample")
}

// BenchmarkSpillWriteMixed is BenchmarkSpillWrite with the comparison's
// workload d: 500 TSD streams past the spill threshold, each WriteBatch one
// sample of each of 100 streams, going round the streams. ns/op is per
// sample.
func BenchmarkSpillWriteMixed(b *testing.B) {
	const streams = 500
	b.ReportAllocs()
	st := openSpillStore(b, vfs.OS(), mm2.Options{Dir: filepath.Join(b.TempDir(), "store")})
	defer st.m.Close()
	st.fillPast(b, mm2.DefaultSpillPercent)
	hs := configureTSD(b, st.m, streams)
	batch := make([]mm2.Write, 0, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % streams
		batch = append(batch, mm2.Write{Stream: hs[k], Value: uint32(i), UTCms: int64(i/streams) * 1000})
		if len(batch) == cap(batch) || i == b.N-1 {
			if _, err := st.m.WriteBatch(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// configureTSD configures n TSD streams of period 1 s, sensors 0..n-1.
func configureTSD(b *testing.B, m *mm2.Manager, n int) []*mm2.Stream {
	b.Helper()
	hs := make([]*mm2.Stream, n)
	for i := range hs {
		s, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, mm2.TSD, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		hs[i] = s
	}
	return hs
}
