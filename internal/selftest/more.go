package selftest

// This file holds the self-tests numbered 18 to 20, which the original
// harness did not have: 18 NACK redelivery (order, sequence numbers, values
// and times of NACKed records), 19 GPS events (a write with a fix and its
// companion streams) and 20 source isolation (what one source does never
// touches another's streams). Tests 1–11 and 13 are in core.go, 14–17 (the disk
// tier) in disk_tier.go, 100+n (the production bugs) in bugs.go and
// disk_bugs.go, and 12 (the stress test) in stress.go.

import (
	"math"
	"slices"

	"github.com/mm2go/mm2"
)

// init registers tests 18–20.
func init() {
	register(Test{Num: 18, Name: "NACK redelivery", Run: testNackRedelivery})
	register(Test{Num: 19, Name: "GPS events", Run: testGPSEvents})
	register(Test{Num: 20, Name: "source isolation", Run: testSourceIsolation})
}

// 18: NACKed records come back in the same order with the same sequence
// numbers, values and timestamps: single and bulk reads, repeated NACKs,
// after a partial ACK, across sectors, with writes in between, both kinds.
func testNackRedelivery(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	redelivered, nacks := 0, 0
	for _, kind := range []mm2.Kind{mm2.TSD, mm2.EVT} {
		var s *mm2.Stream
		if kind == mm2.TSD {
			s = e.Configure(m, sid(mm2.BLE, 18), mm2.TSD, ms(50))
			writeTSD(e, s, 4*per, 1)
		} else {
			s = e.Configure(m, sid(mm2.BLE, 19), mm2.EVT, 0)
			writeEVT(e, s, 4*per, 1, 7)
		}
		all := make([]mm2.Sample, 4*per)
		n, err := s.PeekBulk(all)
		e.NoErr(err, "PeekBulk")
		Eq(e, n, 4*per, "records stored")
		nack := func(want int) {
			k, err := s.Nack()
			e.NoErr(err, "Nack")
			Eq(e, k, want, "records NACKed")
			nacks++
			redelivered += k
		}
		// Single reads, then a bulk read across a sector boundary.
		got := append(readN(e, s, 3), make([]mm2.Sample, per)...)
		n, err = s.ReadBulk(got[3:])
		e.NoErr(err, "ReadBulk")
		got = got[:3+n]
		e.True(slices.Equal(got, all[:len(got)]), "%v: reads %v, want %v", kind, got, all[:len(got)])
		nack(len(got))
		e.WantCounts(s, 4*per, 0, "%v after the NACK", kind)
		// The same records again, twice over.
		for range 2 {
			again := readN(e, s, len(got))
			e.True(slices.Equal(again, got), "%v: redelivered %v, want %v", kind, again, got)
			nack(len(got))
		}
		// A partial ACK, then a NACK of what follows.
		readN(e, s, per)
		_, err = s.Ack()
		e.NoErr(err, "Ack")
		part := readN(e, s, per+1)
		e.True(slices.Equal(part, all[per:2*per+1]), "%v: after a partial ACK %v, want %v", kind, part, all[per:2*per+1])
		// New writes while records are pending do not disturb the NACK.
		if kind == mm2.TSD {
			writeTSD(e, s, 2, 1000)
		} else {
			writeEVT(e, s, 2, 1000, 7)
		}
		nack(per + 1)
		rest := readAll(e, s)
		Eq(e, len(rest), 3*per+2, "%v records after the NACK", kind)
		e.True(slices.Equal(rest[:3*per], all[per:]), "%v: redelivery after a partial ACK differs", kind)
		wantSeqs(e, rest, uint64(per+1), "the whole remaining stream")
		_, err = s.Ack()
		e.NoErr(err, "final Ack")
		_, err = s.Ack()
		e.Is(err, mm2.ErrNoData, "Ack after everything was acknowledged")
	}
	Eq(e, m.Stats().SectorsUsed, 0, "sectors after acknowledging everything")
	e.Fig("nacks", nacks)
	e.Fig("redelivered", redelivered)
}

// 19: a GPS event writes the event and the four GPS values with one
// identical timestamp, all or nothing; without a GPS configuration only the
// event is written.
func testGPSEvents(e *Env) {
	m := e.Open(nil)
	cfg := gps(100, 101, 102, 103)
	e.NoErr(m.SetGPS(mm2.CAN, cfg), "SetGPS")
	var gpsStreams [4]*mm2.Stream
	for i, sn := range [4]uint32{cfg.Latitude, cfg.Longitude, cfg.Altitude, cfg.Speed} {
		s, err := m.Stream(sid(mm2.CAN, sn))
		e.NoErr(err, "GPS stream %d configured by SetGPS", sn)
		Eq(e, s.Kind(), mm2.EVT, "GPS stream kind")
		gpsStreams[i] = s
	}
	ev := e.Configure(m, sid(mm2.CAN, 1), mm2.EVT, 0)
	const n = 6
	fixes := make([]mm2.GPSFix, n)
	stamps := make([]int64, n)
	for i := range n {
		fixes[i] = mm2.GPSFix{Latitude: 52.37 + float32(i)/100, Longitude: 4.89, Altitude: float32(-3 + i), Speed: float32(i) * 12.5}
		stamps[i] = e.Now()
		e.NoErr(ev.WriteEventWithGPS(uint32(7000+i), fixes[i]), "WriteEventWithGPS %d", i)
		e.Advance(1234)
	}
	evs := readAll(e, ev)
	Eq(e, len(evs), n, "events")
	for i, smp := range evs {
		Eq(e, [2]int64{int64(smp.Value), smp.UTCms}, [2]int64{int64(7000 + i), stamps[i]}, "event %d", i)
	}
	for k, s := range gpsStreams {
		got := readAll(e, s)
		Eq(e, len(got), n, "records in GPS stream %v", s.ID())
		for i, smp := range got {
			f := [4]float32{fixes[i].Latitude, fixes[i].Longitude, fixes[i].Altitude, fixes[i].Speed}[k]
			Eq(e, smp.Value, math.Float32bits(f), "GPS value %d of %v", i, s.ID())
			Eq(e, smp.UTCms, evs[i].UTCms, "timestamp of GPS value %d of %v (the event's)", i, s.ID())
		}
	}
	// No GPS configuration on this source: only the event.
	plain := e.Configure(m, sid(mm2.Gateway, 1), mm2.EVT, 0)
	e.NoErr(plain.WriteEventWithGPS(9, fixes[0]), "WriteEventWithGPS without a GPS configuration")
	e.WantCounts(plain, 1, 0, "event without GPS")
	for _, s := range gpsStreams {
		e.WantCounts(s, 0, n, "GPS stream %v after an event of another source", s.ID())
	}
	// SetGPS over a TSD stream is refused and changes nothing.
	e.Configure(m, sid(mm2.Hosted, 5), mm2.TSD, ms(100))
	before := snap(e, m)
	e.Is(m.SetGPS(mm2.Hosted, gps(4, 5, 6, 7)), mm2.ErrKindMismatch, "SetGPS naming a TSD stream")
	unchanged(e, m, before, "refused SetGPS")

	e.Fig("gps_events", n+1)
	e.Fig("records_per_event", 5)
	if e.Backend() != Mock {
		return // a disk tier takes what the pool cannot
	}
	// All or nothing: a tiny pool without room for five records.
	small := e.Open(func(o *mm2.Options) {
		o.Overflow = mm2.RejectNew
		o.Profile.PoolBytes = 8 * o.Profile.SectorSize
	})
	e.NoErr(small.SetGPS(mm2.CAN, cfg), "SetGPS")
	sev := e.Configure(small, sid(mm2.CAN, 1), mm2.EVT, 0)
	filler := e.Configure(small, sid(mm2.BLE, 1), mm2.TSD, ms(1))
	for small.Stats().SectorsFree > 3 {
		e.NoErr(filler.WriteTSD(1), "fill")
		e.Advance(50) // a new sector every write
	}
	before = snap(e, small)
	err := sev.WriteEventWithGPS(1, fixes[0])
	e.Is(err, mm2.ErrFull, "GPS event needing 5 sectors with 3 free")
	after := snap(e, small)
	e.True(slices.Equal(after.streams, before.streams), "a refused GPS event changed streams")
	readAll(e, filler)
	_, err = filler.Ack()
	e.NoErr(err, "Ack")
	e.NoErr(sev.WriteEventWithGPS(2, fixes[1]), "GPS event with room")
	e.WantCounts(sev, 1, 0, "event")
}

// 20: nothing done to one source changes another's streams: writes, reads,
// NACK, ACK, GPS, on every source in turn, with the same sensor ids.
func testSourceIsolation(e *Env) {
	m := e.Open(nil)
	var ss [mm2.MaxSources]*mm2.Stream
	for src := range mm2.Source(mm2.MaxSources) {
		if src%2 == 0 {
			ss[src] = e.Configure(m, sid(src, 7), mm2.TSD, ms(10))
			writeTSD(e, ss[src], 5, uint32(src)*100)
		} else {
			ss[src] = e.Configure(m, sid(src, 7), mm2.EVT, 0)
			writeEVT(e, ss[src], 5, uint32(src)*100, 3)
		}
	}
	compared := 0
	for src := range mm2.Source(mm2.MaxSources) {
		s := ss[src]
		ops := []struct {
			name string
			f    func() error
		}{
			{"write", func() error {
				if s.Kind() == mm2.TSD {
					return s.WriteTSD(1)
				}
				return s.WriteEVT(1, e.Now())
			}},
			{"read", func() error { _, err := s.Read(); return err }},
			{"read bulk", func() error { _, err := s.ReadBulk(make([]mm2.Sample, 2)); return err }},
			{"nack", func() error { _, err := s.Nack(); return err }},
			{"read", func() error { _, err := s.Read(); return err }},
			{"ack", func() error { _, err := s.Ack(); return err }},
			{"gps", func() error { return m.SetGPS(src, gps(50, 51, 52, 53)) }},
		}
		for _, op := range ops {
			others := map[mm2.Source]mm2.StreamStats{}
			for o, x := range ss {
				if mm2.Source(o) != src {
					others[mm2.Source(o)] = x.Stats()
				}
			}
			e.Advance(10)
			e.NoErr(op.f(), "%s on %v", op.name, s.ID())
			for o, before := range others {
				streamUnchanged(e, ss[o], before, "%s on source %v", op.name, src)
				compared++
			}
		}
		own := readAll(e, s)
		for _, smp := range own {
			e.True(smp.Value == 1 || smp.Value/100 == uint32(src), "source %v read value %d of another source", src, smp.Value)
		}
	}
	e.Check(m, "after every source")
	e.Fig("sources", mm2.MaxSources)
	e.Fig("streams_compared", compared)
}
