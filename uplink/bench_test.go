package uplink

import (
	"context"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// BenchmarkDrain drains 16 streams (TSD and EVT, 2,000 records each) to a
// sender that confirms at once: the cost of building batches, reading each
// record once, encoding size and ACKing, per record.
func BenchmarkDrain(b *testing.B) {
	const streams, perStream = 16, 2000
	p := mm2.ProfileLinux
	p.PoolBytes = 4 << 20
	send := SenderFunc(func(context.Context, *Batch) error { return nil })
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		m, err := mm2.Open(mm2.Options{Profile: p, Overflow: mm2.RejectNew})
		if err != nil {
			b.Fatal(err)
		}
		for s := range uint32(streams) {
			id := mm2.StreamID{Source: mm2.Source(s % 4), Sensor: s}
			kind, period := mm2.TSD, 10*time.Millisecond
			if s%2 == 1 {
				kind, period = mm2.EVT, 0
			}
			h, err := m.Configure(id, kind, period)
			if err != nil {
				b.Fatal(err)
			}
			for k := range perStream {
				if kind == mm2.TSD {
					err = h.WriteTSD(uint32(k % 100))
				} else {
					err = h.WriteEVT(uint32(k*7), 1_767_225_600_000+int64(k)*137)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		u, err := New(m, send, Config{Poll: time.Millisecond, MaxInFlight: 4})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := u.Drain(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st := u.Stats(); st.Total.AckedRecords != streams*perStream {
			b.Fatalf("acked %d records, want %d", st.Total.AckedRecords, streams*perStream)
		}
		_ = m.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streams*perStream), "ns/record")
}
