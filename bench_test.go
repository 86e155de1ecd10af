package mm2_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

func openBench(b *testing.B, clock func() time.Time) *mm2.Manager {
	b.Helper()
	return openStore(b, mm2.Options{Profile: mm2.ProfileLinux, Clock: clock}, nil)
}

// benchBatch is how many records a write benchmark stores before it drains
// the stream with the timer stopped: well under the linux pool (12,288 TSD
// samples), so the measured path is the append, never drop-oldest.
const benchBatch = 4096

func benchWrite(b *testing.B, kind mm2.Kind, clock func() time.Time, write func(s *mm2.Stream, i int) error) {
	m := openBench(b, clock)
	period := time.Duration(0)
	if kind == mm2.TSD {
		period = 10 * time.Millisecond
	}
	s, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, kind, period)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]mm2.Sample, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%benchBatch == benchBatch-1 {
			b.StopTimer()
			drain(b, s, drainHow{ack: true, buf: buf, discard: true})
			b.StartTimer()
		}
		if err := write(s, i); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := m.Check(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkWriteTSD(b *testing.B) {
	clock := newClock(10)
	benchWrite(b, mm2.TSD, clock.now, func(s *mm2.Stream, i int) error { return s.WriteTSD(uint32(i)) })
}

// BenchmarkWriteTSDWallClock is WriteTSD with the real clock (time.Now), the
// cost an application actually pays. Samples arrive far faster than the
// 10 ms period: each sector takes a step of its own (0 ms within one
// millisecond) from its second sample and holds 6, and a batch overflows
// the pool into drop-oldest; time.Now itself is most of the cost on a
// virtual machine's clock source.
func BenchmarkWriteTSDWallClock(b *testing.B) {
	benchWrite(b, mm2.TSD, nil, func(s *mm2.Stream, i int) error { return s.WriteTSD(uint32(i)) })
}

func BenchmarkWriteEVT(b *testing.B) {
	clock := newClock(1)
	ts := int64(1_700_000_000_000)
	benchWrite(b, mm2.EVT, clock.now, func(s *mm2.Stream, i int) error {
		return s.WriteEVT(uint32(i), ts+int64(i)*7)
	})
}

// BenchmarkReadBulkAck reads a stream in batches of 256 records and
// acknowledges each batch; ns/record is the cost per delivered record.
func BenchmarkReadBulkAck(b *testing.B) {
	clock := newClock(10)
	m := openBench(b, clock.now)
	s, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 10*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	const batch, fill = 256, 8192
	buf := make([]mm2.Sample, batch)
	refill := func() {
		for i := 0; i < fill; i++ {
			if err := s.WriteTSD(uint32(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	refill()
	records := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := s.ReadBulk(buf)
		if err == mm2.ErrNoData {
			b.StopTimer()
			refill()
			b.StartTimer()
			n, err = s.ReadBulk(buf)
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Ack(); err != nil {
			b.Fatal(err)
		}
		records += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
	if err := m.Check(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteParallel has every goroutine write its own TSD stream. The
// pool fills and stays full, so the steady state includes drop-oldest of the
// writer's own oldest sector (one in six writes allocates).
func BenchmarkWriteParallel(b *testing.B) {
	clock := newClock(10)
	m := openBench(b, clock.now)
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := mm2.StreamID{Source: mm2.Source(next.Load() % mm2.MaxSources), Sensor: next.Add(1)}
		s, err := m.Configure(id, mm2.TSD, 10*time.Millisecond)
		if err != nil {
			b.Error(err)
			return
		}
		v := uint32(0)
		for pb.Next() {
			v++
			if err := s.WriteTSD(v); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if err := m.Check(); err != nil {
		b.Fatal(err)
	}
}

// TestHotPathsAllocateNothing measures what the benchmarks report: the hot
// path methods of a Stream allocate nothing.
func TestHotPathsAllocateNothing(t *testing.T) {
	m := openStore(t, mm2.Options{}, nil)
	tsd, err := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: 1}, mm2.TSD, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	evt, err := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: 2}, mm2.EVT, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]mm2.Sample, 8)
	var sink int
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"WriteTSD", func() { _ = tsd.WriteTSD(1) }},
		{"WriteEVT", func() { _ = evt.WriteEVT(1, 1_700_000_000_000) }},
		{"Read", func() { _ = evt.WriteEVT(2, 5); _, _ = evt.Read() }},
		{"ReadBulk", func() { _ = tsd.WriteTSD(3); _, _ = tsd.ReadBulk(buf) }},
		{"Peek", func() { _ = evt.WriteEVT(2, 5); _, _ = evt.Peek(0) }},
		{"PeekBulk", func() { _, _ = evt.PeekBulk(buf) }},
		{"Ack", func() { _ = evt.WriteEVT(2, 5); _, _ = evt.Read(); _, _ = evt.Ack() }},
		{"Nack", func() { _ = tsd.WriteTSD(4); _, _ = tsd.Read(); _, _ = tsd.Nack() }},
		{"Counts", func() { sink += tsd.Counts().Total }},
	} {
		if n := testing.AllocsPerRun(1000, c.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, n)
		}
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkWriteFullPool is the steady state of an uplink that is down: the
// pool is full and every write that needs a sector drops one. "head": no
// batch in flight, the oldest sector goes; "behind-batch": a batch of 6 is
// pending the whole time, so drops happen behind it and grow one gap.
func BenchmarkWriteFullPool(b *testing.B) {
	for _, held := range []bool{false, true} {
		name := "head"
		if held {
			name = "behind-batch"
		}
		b.Run(name, func(b *testing.B) {
			m, _ := openT(b, mm2.Options{Profile: mm2.ProfileSTM32, Clock: newClock(10).now})
			s, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 10*time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; m.Stats().SectorsFree > 0; i++ {
				if err := s.WriteTSD(uint32(i)); err != nil {
					b.Fatal(err)
				}
			}
			if held {
				if _, err := s.ReadBulk(make([]mm2.Sample, 6)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.WriteTSD(uint32(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := m.Check(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkWriteBatch writes a bus cycle at a time: one sample of each of
// 100 TSD streams per Manager.WriteBatch, in RAM; ns/op is per sample, for
// comparison with WriteTSD's one call per sample.
func BenchmarkWriteBatch(b *testing.B) {
	const streams = 100
	m := openBench(b, newClock(0).now)
	ss := make([]*mm2.Stream, streams)
	for i := range ss {
		s, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, mm2.TSD, 10*time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		ss[i] = s
	}
	ws := make([]mm2.Write, streams)
	buf := make([]mm2.Sample, 1024)
	cycles := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += streams {
		if cycles%40 == 39 { // 4,000 samples stored: drain, well under the pool
			b.StopTimer()
			for _, s := range ss {
				drain(b, s, drainHow{ack: true, buf: buf, discard: true})
			}
			b.StartTimer()
		}
		t := kitEpoch + int64(cycles)*10
		for k, s := range ss {
			ws[k] = mm2.Write{Stream: s, Value: uint32(i + k), UTCms: t}
		}
		if _, err := m.WriteBatch(ws); err != nil {
			b.Fatal(err)
		}
		cycles++
	}
	b.StopTimer()
	if err := m.Check(); err != nil {
		b.Fatal(err)
	}
}
