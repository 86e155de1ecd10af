package selftest

import (
	"fmt"
	"slices"
	"time"

	"github.com/mm2go/mm2"
)

// Stream ids the tests use.
func sid(src mm2.Source, sensor uint32) mm2.StreamID {
	return mm2.StreamID{Source: src, Sensor: sensor}
}

// writeTSD writes n samples first, first+1, … to a TSD stream, each in its
// slot: the clock advances one period after every write. It returns the UTC
// times of the writes.
func writeTSD(e *Env, s *mm2.Stream, n int, first uint32) []int64 {
	period := s.Stats().Period
	ts := make([]int64, n)
	for i := range n {
		ts[i] = e.Now()
		e.NoErr(s.WriteTSD(first+uint32(i)), "WriteTSD #%d to %v", i, s.ID())
		e.Advance(period)
	}
	return ts
}

// writeEVT writes n events first, first+1, … stamped with the clock, which
// advances step ms after each.
func writeEVT(e *Env, s *mm2.Stream, n int, first uint32, step int64) []int64 {
	ts := make([]int64, n)
	for i := range n {
		ts[i] = e.Now()
		e.NoErr(s.WriteEVT(first+uint32(i), ts[i]), "WriteEVT #%d to %v", i, s.ID())
		e.Advance(step)
	}
	return ts
}

// readN reads n records one by one.
func readN(e *Env, s *mm2.Stream, n int) []mm2.Sample {
	out := make([]mm2.Sample, n)
	for i := range out {
		smp, err := s.Read()
		e.NoErr(err, "Read #%d of %v", i, s.ID())
		out[i] = smp
	}
	return out
}

// readAll reads every unread record with ReadBulk.
func readAll(e *Env, s *mm2.Stream) []mm2.Sample {
	var out []mm2.Sample
	buf := make([]mm2.Sample, 16)
	for s.Counts().New > 0 {
		n, err := s.ReadBulk(buf)
		e.NoErr(err, "ReadBulk of %v", s.ID())
		out = append(out, buf[:n]...)
	}
	return out
}

// wantSeqs fails unless the samples carry the sequence numbers from..from+len-1.
func wantSeqs(e *Env, got []mm2.Sample, from uint64, what string) {
	for i, smp := range got {
		if smp.Seq != from+uint64(i) {
			e.Failf("%s: record %d has seq %d, want %d", what, i, smp.Seq, from+uint64(i))
		}
	}
}

// wantValues fails unless the samples carry the values from..from+len-1.
func wantValues(e *Env, got []mm2.Sample, from uint32, what string) {
	for i, smp := range got {
		if smp.Value != from+uint32(i) {
			e.Failf("%s: record %d (seq %d) has value %d, want %d", what, i, smp.Seq, smp.Value, from+uint32(i))
		}
	}
}

// snapshot is everything observable about a manager, to prove that an
// operation changed nothing.
type snapshot struct {
	stats   mm2.Stats
	streams []mm2.StreamStats
}

func snap(e *Env, m *mm2.Manager) snapshot {
	var sn snapshot
	for _, id := range m.Streams() {
		s, err := m.Stream(id)
		e.NoErr(err, "Stream(%v)", id)
		sn.streams = append(sn.streams, s.Stats())
	}
	// After the streams: on the disk backend a stream's first Stats call
	// allocates its disk state, which shows in the footprint.
	sn.stats = m.Stats()
	return sn
}

// unchanged fails unless m looks exactly as in before.
func unchanged(e *Env, m *mm2.Manager, before snapshot, what string, a ...any) {
	after := snap(e, m)
	if after.stats != before.stats {
		e.Failf("%s changed the manager: Stats %+v, before %+v", fmt.Sprintf(what, a...), after.stats, before.stats)
	}
	if !slices.Equal(after.streams, before.streams) {
		e.Failf("%s changed a stream: %+v, before %+v", fmt.Sprintf(what, a...), after.streams, before.streams)
	}
}

// streamUnchanged fails unless the stream looks exactly as in before.
func streamUnchanged(e *Env, s *mm2.Stream, before mm2.StreamStats, what string, a ...any) {
	if after := s.Stats(); after != before {
		e.Failf("%s changed %v: %+v, before %+v", fmt.Sprintf(what, a...), s.ID(), after, before)
	}
}

// ms is a duration of n milliseconds.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// tsdPerSector is how many TSD samples fill a sector of the run's profile.
func tsdPerSector(e *Env) int { return (e.Profile().SectorSize - 8) / 4 }

// sectors is the pool size of m.
func sectors(m *mm2.Manager) int { return m.Stats().SectorsTotal }

// gps is a GPS configuration naming four sensors.
func gps(lat, lon, alt, speed uint32) mm2.GPSConfig {
	return mm2.GPSConfig{Latitude: lat, Longitude: lon, Altitude: alt, Speed: speed}
}

// wantPositions fails unless the stream's sequence positions are acked, read
// and written. The disk backend reports no read position; there the pending
// count stands for it.
func wantPositions(e *Env, s *mm2.Stream, acked, read, written uint64, what string) {
	ss := s.Stats()
	got := [3]uint64{ss.Acked, ss.Read, ss.Written}
	if e.Backend() == Disk {
		got[1] = ss.Acked + uint64(ss.Counts.Pending)
	}
	Eq(e, got, [3]uint64{acked, read, written}, "%s: positions acked/read/written", what)
}

// periodOf is the period the bug tests give a stream of kind k.
func periodOf(k mm2.Kind) time.Duration {
	if k == mm2.TSD {
		return ms(100)
	}
	return 0
}

// writeOne writes one record of the stream's kind: a TSD sample in the slot
// after the clock's (the clock advances one period first), an event one ms
// after the clock's time.
func writeOne(e *Env, s *mm2.Stream, v uint32) {
	if s.Kind() == mm2.TSD {
		e.Advance(s.Stats().Period)
		e.NoErr(s.WriteTSD(v), "WriteTSD %d to %v", v, s.ID())
		return
	}
	e.Advance(1)
	e.NoErr(s.WriteEVT(v, e.Now()), "WriteEVT %d to %v", v, s.ID())
}
