package selftest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/mm2go/mm2"
)

// Tests 1–11 and 13: the original harness's numbered tests.
func init() {
	register(Test{Num: 1, Name: "platform init", Run: testPlatformInit})
	register(Test{Num: 2, Name: "state management", Run: testStateManagement})
	register(Test{Num: 3, Name: "writes and counters", Run: testWritesCounters})
	register(Test{Num: 4, Name: "erase (ACK) and positions", Run: testErasePositions})
	register(Test{Num: 5, Name: "invariants", Run: testInvariants})
	// With a disk tier the pool never fills (new sectors spill to disk at
	// the threshold): test 14 (tiering) is the disk backend's test 6.
	register(Test{Num: 6, Name: "sector allocation", Backends: []Backend{Mock}, Run: testSectorAllocation})
	register(Test{Num: 7, Name: "error codes", Run: testErrorCodes})
	register(Test{Num: 8, Name: "cross-platform consistency", Run: testCrossPlatform})
	register(Test{Num: 9, Name: "TSD and EVT writes", Run: testTSDEVT})
	register(Test{Num: 10, Name: "full lifecycle", Run: testLifecycle})
	register(Test{Num: 11, Name: "legacy interface", Run: testLegacy})
	register(Test{Num: 13, Name: "storage backend", Run: testStorageBackend})
}

// 1: the manager comes up as its profile says: pool geometry, budget, UTC
// state, stream table, and bad options refused at Open.
func testPlatformInit(e *Env) {
	p := e.Profile()
	m := e.OpenWith(e.Options())
	Eq(e, m.Profile(), p, "Profile()")
	st := m.Stats()
	total := p.PoolBytes / p.SectorSize
	Eq(e, st.Profile, p.Name, "Stats.Profile")
	Eq(e, st.Backend, string(e.Backend()), "Stats.Backend")
	Eq(e, st.SectorsTotal, total, "sectors")
	Eq(e, st.SectorsFree, total, "free sectors of a new pool")
	Eq(e, st.SectorSize, p.SectorSize, "sector size")
	Eq(e, st.UTCAvailable, !p.NeedUTC, "UTC available at start")
	e.Check(m, "new manager")

	s := e.Configure(m, sid(mm2.Gateway, 1), mm2.TSD, ms(1000))
	if p.NeedUTC {
		e.Is(s.WriteTSD(1), mm2.ErrUTCNotAvailable, "write before UTC on %s", p.Name)
		e.WantCounts(s, 0, 0, "after the refused write")
	} else {
		m.SetUTCAvailable(false)
		Eq(e, m.Stats().UTCAvailable, true, "UTC on a profile that does not wait for it")
	}
	m.SetUTCAvailable(true)
	e.NoErr(s.WriteTSD(1), "first write")
	e.WantCounts(s, 1, 0, "after the first write")

	// The whole stream table, and not one more.
	for i := 1; i < p.MaxStreams; i++ {
		e.Configure(m, sid(mm2.Source(i%mm2.MaxSources), uint32(1000+i)), mm2.EVT, 0)
	}
	_, err := m.Configure(sid(mm2.CAN, 999_999), mm2.EVT, 0)
	e.Is(err, mm2.ErrFull, "stream %d of %d", p.MaxStreams+1, p.MaxStreams)
	fp := m.Footprint()
	Eq(e, m.Stats().Footprint, fp, "Stats.Footprint")
	e.True(fp >= p.PoolBytes, "footprint %d B smaller than the %d B pool", fp, p.PoolBytes)
	if p.BudgetBytes > 0 {
		e.True(fp <= p.BudgetBytes, "footprint %d B over the %d B budget with %d streams", fp, p.BudgetBytes, p.MaxStreams)
		big := p
		big.PoolBytes *= 4
		_, err := mm2.Open(mm2.Options{Profile: big})
		e.Is(err, mm2.ErrInvalidArgument, "Open of a pool over the budget")
	}
	for _, bad := range []func(*mm2.Options){
		func(o *mm2.Options) { o.Profile.SectorSize = 7 },
		func(o *mm2.Options) { o.Profile.PoolBytes = 0 },
		func(o *mm2.Options) { o.Profile.SectorIDBits = 8 },
		func(o *mm2.Options) { o.Overflow = 9 },
		func(o *mm2.Options) { o.SpillPercent = 101 },
	} {
		o := mm2.Options{Profile: p}
		bad(&o)
		_, err := mm2.Open(o)
		e.Is(err, mm2.ErrInvalidArgument, "Open with bad options %+v", o)
	}
	e.Check(m, "full stream table")
	e.Fig("sectors", total)
	e.Fig("sector_bytes", p.SectorSize)
	e.Fig("id_bits", p.SectorIDBits)
	e.Fig("streams", p.MaxStreams)
	e.Fig("footprint", fp)
	if p.BudgetBytes > 0 {
		e.Fig("budget", p.BudgetBytes)
	}
}

// 2: configuration, look-up, UTC, power-down and close states.
func testStateManagement(e *Env) {
	m := e.Open(nil)
	steps := 0
	step := func(what string) { steps++; e.Check(m, "%s", what) }
	ids := []mm2.StreamID{sid(mm2.CAN, 5), sid(mm2.Gateway, 9), sid(mm2.Gateway, 2)}
	a := e.Configure(m, ids[0], mm2.TSD, ms(100))
	e.Configure(m, ids[1], mm2.EVT, 0)
	e.Configure(m, ids[2], mm2.TSD, ms(1000))
	again := e.Configure(m, ids[0], mm2.TSD, ms(100))
	e.True(again == a, "Configure of an existing stream returned another handle")
	_, err := m.Configure(ids[0], mm2.EVT, 0)
	e.Is(err, mm2.ErrKindMismatch, "reconfigure as EVT")
	_, err = m.Configure(ids[0], mm2.TSD, ms(200))
	e.Is(err, mm2.ErrKindMismatch, "reconfigure with another period")
	got, err := m.Stream(ids[0])
	e.NoErr(err, "Stream")
	e.True(got == a, "Stream() returned another handle")
	_, err = m.Stream(sid(mm2.BLE, 1))
	e.Is(err, mm2.ErrUnknownStream, "Stream of an unknown id")
	want := []mm2.StreamID{ids[2], ids[1], ids[0]}
	e.True(slices.Equal(m.Streams(), want), "Streams() = %v, want %v", m.Streams(), want)
	Eq(e, m.Stats().Streams, 3, "configured streams")
	step("configure")

	Eq(e, m.Stats().ActiveStreams, 0, "active streams before writes")
	e.NoErr(a.WriteTSD(10), "write")
	Eq(e, m.Stats().ActiveStreams, 1, "active streams after a write")
	_, err = a.Read()
	e.NoErr(err, "read")
	Eq(e, m.Stats().ActiveStreams, 1, "active streams with pending data")
	_, err = a.Ack()
	e.NoErr(err, "ack")
	Eq(e, m.Stats().ActiveStreams, 0, "active streams after the ACK")
	step("active")

	m.SetUTCAvailable(false)
	if e.Profile().NeedUTC {
		Eq(e, m.Stats().UTCAvailable, false, "UTC after SetUTCAvailable(false)")
		e.Is(a.WriteTSD(1), mm2.ErrUTCNotAvailable, "write without UTC")
	} else {
		Eq(e, m.Stats().UTCAvailable, true, "UTC after SetUTCAvailable(false) on %s", e.Profile().Name)
	}
	m.SetUTCAvailable(true)
	e.NoErr(a.WriteTSD(11), "write with UTC back")
	step("utc")

	e.NoErr(m.PowerDown(context.Background()), "PowerDown")
	Eq(e, m.Stats().PoweringDown, true, "powering down")
	e.Is(a.WriteTSD(12), mm2.ErrPoweringDown, "write while powering down")
	smp, err := a.Read()
	e.NoErr(err, "read while powering down")
	Eq(e, smp.Value, uint32(11), "value read while powering down")
	_, err = a.Ack()
	e.NoErr(err, "ack while powering down")
	e.NoErr(m.PowerAbort(), "PowerAbort")
	Eq(e, m.Stats().PoweringDown, false, "powering down after PowerAbort")
	e.Is(m.PowerAbort(), mm2.ErrInvalidArgument, "PowerAbort without a power-down")
	e.NoErr(a.WriteTSD(13), "write after PowerAbort")
	e.WantCounts(a, 1, 0, "after the power cycle")
	step("power")

	m2 := e.Open(nil)
	b := e.Configure(m2, sid(mm2.Hosted, 1), mm2.EVT, 0)
	e.NoErr(b.WriteEVT(1, e.Now()), "write")
	e.Close(m2)
	_, err = m2.Configure(sid(mm2.Hosted, 2), mm2.EVT, 0)
	e.Is(err, mm2.ErrClosed, "Configure after Close")
	e.Is(b.WriteEVT(2, e.Now()), mm2.ErrClosed, "write after Close")
	_, err = b.Read()
	e.Is(err, mm2.ErrClosed, "Read after Close")
	e.Is(m2.Close(), mm2.ErrClosed, "second Close")
	step("closed")
	e.Fig("states", steps)
}

// 3: every write is counted where it should be: stream counts, sequence
// positions, manager totals, sectors allocated at the profile's density.
func testWritesCounters(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	t := e.Configure(m, sid(mm2.Gateway, 1), mm2.TSD, ms(1000))
	nT := 5*per + 3
	for i := 1; i <= nT; i++ {
		e.NoErr(t.WriteTSD(uint32(100+i)), "TSD write %d", i)
		e.Advance(1000)
		e.WantCounts(t, i, 0, "after TSD write %d", i)
		ss := t.Stats()
		Eq(e, ss.Written, uint64(i), "written after %d", i)
		Eq(e, ss.SectorsRAM, (i+per-1)/per, "sectors after %d TSD writes", i)
		Eq(e, m.Stats().New, uint64(i), "manager's new count after %d", i)
	}
	tSectors := t.Stats().SectorsRAM
	v := e.Configure(m, sid(mm2.CAN, 2), mm2.EVT, 0)
	const nE = 20
	for i := 1; i <= nE; i++ {
		e.NoErr(v.WriteEVT(uint32(500+i), e.Now()), "EVT write %d", i)
		e.Advance(5)
		e.WantCounts(v, i, 0, "after EVT write %d", i)
	}
	eSectors := v.Stats().SectorsRAM
	e.True(eSectors <= (nE+1)/2, "%d events take %d sectors; the original fits 2 per sector", nE, eSectors)
	st := m.Stats()
	Eq(e, st.SectorsUsed, tSectors+eSectors, "sectors used")
	Eq(e, st.Allocations, uint64(tSectors+eSectors), "allocations")
	Eq(e, st.StoredRecords, uint64(nT+nE), "stored records")
	Eq(e, st.New, uint64(nT+nE), "new records")

	// Peeking sees every record in order and changes nothing.
	before := snap(e, m)
	buf := make([]mm2.Sample, nT+5)
	n, err := t.PeekBulk(buf)
	e.NoErr(err, "PeekBulk")
	Eq(e, n, nT, "PeekBulk count")
	wantSeqs(e, buf[:n], 1, "PeekBulk TSD")
	wantValues(e, buf[:n], 101, "PeekBulk TSD")
	for i := range nE {
		smp, err := v.Peek(i)
		e.NoErr(err, "Peek(%d)", i)
		Eq(e, smp.Seq, uint64(i+1), "Peek(%d) seq", i)
		Eq(e, smp.Value, uint32(501+i), "Peek(%d) value", i)
	}
	unchanged(e, m, before, "peeking")
	e.Fig("tsd_records", nT)
	e.Fig("tsd_sectors", tSectors)
	e.Fig("evt_records", nE)
	e.Fig("evt_sectors", eSectors)
	e.Fig("efficiency_pct", fmt.Sprintf("%.0f", st.SpaceEfficiencyPct))
}

// 4: ACK erases exactly the pending records, frees exactly the sectors that
// become empty, and the positions move as they should.
func testErasePositions(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	s := e.Configure(m, sid(mm2.Hosted, 4), mm2.TSD, ms(100))
	n := 5 * per
	writeTSD(e, s, n, 1)
	Eq(e, m.Stats().SectorsUsed, 5, "sectors for %d records", n)
	got := readN(e, s, per+4)
	wantSeqs(e, got, 1, "first reads")
	e.WantCounts(s, n-per-4, per+4, "after %d reads", per+4)
	wantPositions(e, s, 0, uint64(per+4), uint64(n), "before ACK")
	k, err := s.Ack()
	e.NoErr(err, "Ack")
	Eq(e, k, per+4, "records acknowledged")
	wantPositions(e, s, uint64(per+4), uint64(per+4), uint64(n), "after ACK")
	st := m.Stats()
	Eq(e, st.SectorsUsed, 4, "sectors after acknowledging one sector and a part of the next")
	Eq(e, st.Frees, uint64(1), "frees")
	e.WantCounts(s, n-per-4, 0, "after ACK")

	smp, err := s.Read()
	e.NoErr(err, "Read after ACK")
	Eq(e, smp.Seq, uint64(per+5), "first record after the ACK")
	buf := make([]mm2.Sample, n)
	k, err = s.ReadBulk(buf)
	e.NoErr(err, "ReadBulk")
	Eq(e, k, n-per-5, "ReadBulk count")
	wantSeqs(e, buf[:k], uint64(per+6), "ReadBulk")
	k, err = s.Ack()
	e.NoErr(err, "second Ack")
	Eq(e, k, n-per-4, "second ACK count")
	st = m.Stats()
	Eq(e, st.SectorsUsed, 0, "sectors after acknowledging everything")
	Eq(e, st.Frees, st.Allocations, "frees = allocations")
	e.WantCounts(s, 0, 0, "after the last ACK")
	before := snap(e, m)
	_, err = s.Ack()
	e.Is(err, mm2.ErrNoData, "Ack with nothing pending")
	unchanged(e, m, before, "Ack with nothing pending")
	writeTSD(e, s, 1, 999)
	smp, err = s.Read()
	e.NoErr(err, "Read")
	Eq(e, smp.Seq, uint64(n+1), "sequence number after everything was acknowledged")
	e.Fig("acked", n)
	e.Fig("sectors_freed", st.Frees)
}

// 5: R-18 after every step of a seeded mixed workload: acked ≤ read ≤
// written, pending = read − acked, new = written − read, the manager's totals
// equal the streams', Check finds nothing; refused operations change nothing.
func testInvariants(e *Env) {
	m := e.Open(nil)
	rng := rand.New(rand.NewPCG(e.cfg.Seed, 5))
	var ss []*mm2.Stream
	written := map[*mm2.Stream]uint64{}
	for i := range 8 {
		id := sid(mm2.Source(i%4), uint32(i))
		if i%2 == 0 {
			ss = append(ss, e.Configure(m, id, mm2.TSD, ms(10*(i+1))))
		} else {
			ss = append(ss, e.Configure(m, id, mm2.EVT, 0))
		}
	}
	const steps = 3000
	buf := make([]mm2.Sample, 32)
	refused, full := 0, 0
	for i := range steps {
		s := ss[rng.IntN(len(ss))]
		var before mm2.StreamStats
		var err error
		switch r := rng.IntN(100); {
		case r < 55:
			e.Advance(int64(1 + rng.IntN(40)))
			if s.Kind() == mm2.TSD {
				err = s.WriteTSD(rng.Uint32())
			} else {
				err = s.WriteEVT(rng.Uint32(), e.Now())
			}
			if errors.Is(err, mm2.ErrFull) { // only pending data left in the pool
				full++
				err = nil
				break
			}
			e.NoErr(err, "step %d: write", i)
			written[s]++
		case r < 70:
			_, err = s.ReadBulk(buf[:1+rng.IntN(len(buf))])
		case r < 85:
			_, err = s.Ack()
		case r < 92:
			_, err = s.Nack()
		case r < 96:
			_, err = s.Read()
		default: // refused: the wrong kind
			before = s.Stats()
			if s.Kind() == mm2.TSD {
				err = s.WriteEVT(1, e.Now())
			} else {
				err = s.WriteTSD(1)
			}
			e.Is(err, mm2.ErrKindMismatch, "step %d: write of the wrong kind", i)
			streamUnchanged(e, s, before, "step %d: refused write", i)
			refused++
			err = nil
		}
		if err != nil && !errors.Is(err, mm2.ErrNoData) {
			e.Failf("step %d: %v", i, err)
		}
		if err := e.verify(m); err != nil {
			e.Failf("step %d: %v", i, err)
		}
		for _, x := range ss {
			Eq(e, x.Stats().Written, written[x], "step %d: %v written", i, x.ID())
		}
	}
	st := m.Stats()
	e.Fig("steps", steps)
	e.Fig("refused", refused)
	e.Fig("drops", st.Drops.Total())
	e.Fig("full", full)
	e.Fig("violations", 0)
}

// 6: the pool hands out exactly its sectors, reports pressure by level,
// refuses or drops by policy when full, and takes every sector back.
func testSectorAllocation(e *Env) {
	per := tsdPerSector(e)
	m := e.Open(func(o *mm2.Options) { o.Overflow = mm2.RejectNew })
	total := sectors(m)
	s := e.Configure(m, sid(mm2.Gateway, 6), mm2.TSD, ms(1))
	levels := map[mm2.Pressure]bool{}
	for i := 0; i < total*per; i++ {
		e.NoErr(s.WriteTSD(uint32(i)), "write %d of %d", i, total*per)
		e.Advance(1)
		if i%per == 0 {
			st := m.Stats()
			pct := 100 * float64(st.SectorsUsed) / float64(total)
			want := mm2.PressureNormal
			if pct >= 80 {
				want = mm2.PressureCritical
			} else if pct >= 60 {
				want = mm2.PressureWarning
			}
			Eq(e, st.Pressure, want, "pressure at %.1f%%", pct)
			levels[st.Pressure] = true
		}
	}
	e.True(len(levels) == 3, "pressure levels seen: %v", levels)
	st := m.Stats()
	Eq(e, [2]int{st.SectorsUsed, st.SectorsFree}, [2]int{total, 0}, "used/free sectors when full")
	before := s.Stats()
	e.Is(s.WriteTSD(1), mm2.ErrFull, "write into a full pool with RejectNew")
	streamUnchanged(e, s, before, "the refused write")
	st = m.Stats()
	Eq(e, [2]uint64{st.AllocationFailures, st.RejectedWrites}, [2]uint64{1, 1}, "allocation failures/rejected writes")
	e.WantCounts(s, total*per, 0, "full pool")
	readAll(e, s)
	_, err := s.Ack()
	e.NoErr(err, "Ack of everything")
	st = m.Stats()
	Eq(e, [3]uint64{uint64(st.SectorsFree), st.Allocations, st.Frees}, [3]uint64{uint64(total), uint64(total), uint64(total)}, "free/allocations/frees after the ACK")

	// DropOldest: the oldest unsent sector goes, counted, never pending data.
	d := e.Open(nil)
	a := e.Configure(d, sid(mm2.CAN, 1), mm2.TSD, ms(1))
	writeTSD(e, a, total*per, 0)
	e.NoErr(a.WriteTSD(4242), "write into a full pool with DropOldest")
	e.Advance(1)
	as := a.Stats()
	Eq(e, as.Drops.RAMFull, uint64(per), "records dropped for one sector")
	Eq(e, d.Stats().Drops.RAMFull, uint64(per), "manager's drop count")
	Eq(e, as.Acked, uint64(per), "dropped records count as acknowledged positions")
	smp, err := a.Read()
	e.NoErr(err, "read after the drop")
	Eq(e, smp.Seq, uint64(per+1), "first record after the drop")
	readAll(e, a) // everything stored is pending now, in a full pool
	for a.Stats().Written%uint64(per) != 0 {
		e.NoErr(a.WriteTSD(7), "write into the tail sector")
		e.Advance(1)
	}
	e.Is(a.WriteTSD(2), mm2.ErrFull, "write when only pending data remains")
	e.True(a.Counts().Pending > 0 && a.Stats().Drops.RAMFull == uint64(per), "pending data dropped: %+v", a.Stats())
	e.Fig("sectors", total)
	e.Fig("records_at_full", total*per)
	e.Fig("allocations", st.Allocations)
	e.Fig("frees", st.Frees)
	e.Fig("drops", d.Stats().Drops.RAMFull)
}

// 7: every documented error for every kind of bad input, and nothing changes.
func testErrorCodes(e *Env) {
	m := e.Open(nil)
	t := e.Configure(m, sid(mm2.Gateway, 1), mm2.TSD, ms(100))
	v := e.Configure(m, sid(mm2.Gateway, 2), mm2.EVT, 0)
	empty := e.Configure(m, sid(mm2.Gateway, 3), mm2.EVT, 0)
	writeTSD(e, t, 3, 1)
	writeEVT(e, v, 3, 1, 10)
	codes := 0
	expect := func(err, target error, what string) {
		e.Is(err, target, "%s", what)
		codes++
	}
	none := func(what string, f func() error, target error) {
		before := snap(e, m)
		expect(f(), target, what)
		unchanged(e, m, before, "%s", what)
	}
	cfg := func(id mm2.StreamID, k mm2.Kind, d int) func() error {
		return func() error { _, err := m.Configure(id, k, ms(d)); return err }
	}
	none("Configure source 8", cfg(sid(mm2.MaxSources, 1), mm2.EVT, 0), mm2.ErrInvalidArgument)
	none("Configure TSD period 0", cfg(sid(mm2.BLE, 1), mm2.TSD, 0), mm2.ErrInvalidArgument)
	none("Configure TSD period 1.5 ms", func() error { _, err := m.Configure(sid(mm2.BLE, 1), mm2.TSD, 1500_000); return err }, mm2.ErrInvalidArgument)
	none("Configure EVT with a period", cfg(sid(mm2.BLE, 1), mm2.EVT, 5), mm2.ErrInvalidArgument)
	none("Configure kind 0", cfg(sid(mm2.BLE, 1), 0, 0), mm2.ErrInvalidArgument)
	none("Configure kind 3", cfg(sid(mm2.BLE, 1), 3, 0), mm2.ErrInvalidArgument)
	none("Configure TSD as EVT", cfg(t.ID(), mm2.EVT, 0), mm2.ErrKindMismatch)
	none("Stream unknown", func() error { _, err := m.Stream(sid(mm2.BLE, 77)); return err }, mm2.ErrUnknownStream)
	none("WriteEVT to TSD", func() error { return t.WriteEVT(1, e.Now()) }, mm2.ErrKindMismatch)
	none("WriteTSD to EVT", func() error { return v.WriteTSD(1) }, mm2.ErrKindMismatch)
	none("WriteEventWithGPS to TSD", func() error { return t.WriteEventWithGPS(1, mm2.GPSFix{}) }, mm2.ErrKindMismatch)
	none("Read empty", func() error { _, err := empty.Read(); return err }, mm2.ErrNoData)
	none("ReadBulk empty", func() error { _, err := empty.ReadBulk(make([]mm2.Sample, 4)); return err }, mm2.ErrNoData)
	none("Peek empty", func() error { _, err := empty.Peek(0); return err }, mm2.ErrNoData)
	none("Peek past the end", func() error { _, err := t.Peek(3); return err }, mm2.ErrNoData)
	none("Peek(-1)", func() error { _, err := t.Peek(-1); return err }, mm2.ErrInvalidArgument)
	none("PeekBulk empty", func() error { _, err := empty.PeekBulk(make([]mm2.Sample, 4)); return err }, mm2.ErrNoData)
	none("Ack nothing pending", func() error { _, err := t.Ack(); return err }, mm2.ErrNoData)
	none("Nack nothing pending", func() error { _, err := v.Nack(); return err }, mm2.ErrNoData)
	none("SetGPS source 8", func() error { return m.SetGPS(mm2.MaxSources, gps(1, 2, 3, 4)) }, mm2.ErrInvalidArgument)
	none("SetGPS repeated sensor", func() error { return m.SetGPS(mm2.CAN, gps(1, 2, 2, 4)) }, mm2.ErrInvalidArgument)
	none("SetGPS over a TSD stream", func() error { return m.SetGPS(mm2.Gateway, gps(1, 20, 21, 22)) }, mm2.ErrKindMismatch)
	none("PowerAbort without power-down", m.PowerAbort, mm2.ErrInvalidArgument)
	if e.Profile().NeedUTC {
		m.SetUTCAvailable(false)
		none("WriteTSD without UTC", func() error { return t.WriteTSD(1) }, mm2.ErrUTCNotAvailable)
		none("WriteEVT without UTC", func() error { return v.WriteEVT(1, 0) }, mm2.ErrUTCNotAvailable)
		m.SetUTCAvailable(true)
	}
	e.NoErr(m.PowerDown(context.Background()), "PowerDown")
	none("WriteTSD powering down", func() error { return t.WriteTSD(1) }, mm2.ErrPoweringDown)
	none("WriteEVT powering down", func() error { return v.WriteEVT(1, 0) }, mm2.ErrPoweringDown)
	e.NoErr(m.PowerAbort(), "PowerAbort")

	// ErrFull: the stream table; on the mock backend a full pool with
	// RejectNew (a disk tier takes the write instead).
	small := e.Open(func(o *mm2.Options) { o.Profile.MaxStreams = 2; o.Overflow = mm2.RejectNew })
	f := e.Configure(small, sid(mm2.Gateway, 1), mm2.TSD, ms(1))
	e.Configure(small, sid(mm2.Gateway, 2), mm2.EVT, 0)
	_, err := small.Configure(sid(mm2.Gateway, 3), mm2.EVT, 0)
	expect(err, mm2.ErrFull, "Configure beyond the stream table")
	expect(small.SetGPS(mm2.CAN, gps(1, 2, 3, 4)), mm2.ErrFull, "SetGPS beyond the stream table")
	if e.Backend() == Mock {
		writeTSD(e, f, sectors(small)*tsdPerSector(e), 0)
		before := f.Stats()
		expect(f.WriteTSD(1), mm2.ErrFull, "write into a full pool with RejectNew")
		streamUnchanged(e, f, before, "refused write")
	}

	// ErrClosed from every call.
	c := e.Open(nil)
	ct := e.Configure(c, sid(mm2.Gateway, 1), mm2.TSD, ms(10))
	e.Close(c)
	closed := map[string]error{
		"Configure": func() error { _, err := c.Configure(sid(mm2.Gateway, 2), mm2.EVT, 0); return err }(),
		"Stream":    func() error { _, err := c.Stream(ct.ID()); return err }(),
		"WriteTSD":  ct.WriteTSD(1),
		"WriteEVT":  ct.WriteEVT(1, 0),
		"Read":      func() error { _, err := ct.Read(); return err }(),
		"ReadBulk":  func() error { _, err := ct.ReadBulk(make([]mm2.Sample, 1)); return err }(),
		"Peek":      func() error { _, err := ct.Peek(0); return err }(),
		"PeekBulk":  func() error { _, err := ct.PeekBulk(make([]mm2.Sample, 1)); return err }(),
		"Ack":       func() error { _, err := ct.Ack(); return err }(),
		"Nack":      func() error { _, err := ct.Nack(); return err }(),
		"SetGPS":    c.SetGPS(mm2.Gateway, gps(5, 6, 7, 8)),
		"PowerDown": c.PowerDown(context.Background()),
		"Close":     c.Close(),
	}
	for _, name := range sortedKeys(closed) {
		expect(closed[name], mm2.ErrClosed, name+" after Close")
	}
	e.Fig("codes_checked", codes)
}

func sortedKeys[V any](mp map[string]V) []string {
	ks := make([]string, 0, len(mp))
	for k := range mp {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// 8: the same workload gives the same records, sequence numbers, timestamps
// and counts on this configuration and on every built-in profile.
func testCrossPlatform(e *Env) {
	ref := crossWorkload(e, e.Open(nil))
	compared := 0
	for _, p := range mm2.Profiles() {
		o := e.Options()
		o.Profile, o.Dir = p, ""
		m := e.OpenWith(o)
		m.SetUTCAvailable(true)
		got := crossWorkload(e, m)
		Eq(e, len(got), len(ref), "transcript length on %s", p.Name)
		for i := range ref {
			if got[i] != ref[i] {
				e.Failf("%s/mock differs from %s/%s at step %d: %s, want %s", p.Name, e.Profile().Name, e.Backend(), i, got[i], ref[i])
			}
		}
		compared += len(ref)
	}
	e.Fig("profiles", len(mm2.Profiles()))
	e.Fig("transcript_lines", len(ref))
	e.Fig("compared", compared)
}

// crossWorkload runs a fixed workload small enough for every profile and
// returns a transcript of everything it observed.
func crossWorkload(e *Env, m *mm2.Manager) []string {
	e.SetNow(startUTC)
	var out []string
	logf := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	t := e.Configure(m, sid(mm2.Gateway, 1), mm2.TSD, ms(100))
	v := e.Configure(m, sid(mm2.CAN, 2), mm2.EVT, 0)
	h := e.Configure(m, sid(mm2.Hosted, 3), mm2.TSD, ms(1000))
	ss := []*mm2.Stream{t, v, h}
	buf := make([]mm2.Sample, 7)
	for round := range 8 {
		for i := range 5 {
			e.NoErr(t.WriteTSD(uint32(round*100+i)), "TSD")
			e.NoErr(v.WriteEVT(uint32(round*1000+i), e.Now()-int64(i*3)), "EVT")
			if i%2 == 0 {
				e.NoErr(h.WriteTSD(uint32(round)), "TSD")
			}
			e.Advance(100)
		}
		for j, s := range ss {
			n, err := s.ReadBulk(buf[:3+j+round%3])
			e.NoErr(err, "ReadBulk")
			logf("read %v %v", s.ID(), buf[:n])
			switch (round + j) % 3 {
			case 0:
				k, err := s.Ack()
				logf("ack %d %v", k, err)
			case 1:
				k, err := s.Nack()
				logf("nack %d %v", k, err)
			}
			logf("counts %v %+v", s.ID(), s.Counts())
		}
	}
	for _, s := range ss {
		logf("rest %v %v", s.ID(), readAll(e, s))
		k, err := s.Ack()
		logf("ack %d %v", k, err)
	}
	e.True(m.Stats().Drops.Total() == 0, "the workload dropped data on %s", m.Profile().Name)
	return out
}

// 9: TSD timestamps are derived within ±period/2 of the real write time
// (gaps and late samples start a new sector); events keep any timestamp
// exactly; both kinds at the seed's density or better.
func testTSDEVT(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	t := e.Configure(m, sid(mm2.Gateway, 1), mm2.TSD, ms(100))
	var actual []int64
	write := func(advance int64, v uint32) {
		e.Advance(advance)
		actual = append(actual, e.Now())
		e.NoErr(t.WriteTSD(v), "WriteTSD %d", v)
	}
	for i := range 2 * per {
		write(100, uint32(i)) // exact slots: two full sectors
	}
	Eq(e, t.Stats().SectorsRAM, 2, "sectors for %d samples in their slots", 2*per)
	write(1050, 100) // a gap
	write(140, 101)  // jitter within half a period
	write(160, 102)  // late: 60 ms off its slot
	write(40, 103)   // early: 40 ms after the previous, 60 ms before the next slot
	write(100, 104)
	got := readAll(e, t)
	Eq(e, len(got), len(actual), "TSD records")
	for i, smp := range got {
		d := smp.UTCms - actual[i]
		if 2*max(d, -d) > 100 {
			e.Failf("TSD sample %d (value %d) derived at %d, written at %d: %d ms off", i, smp.Value, smp.UTCms, actual[i], d)
		}
	}
	Eq(e, t.Stats().SectorsRAM, 5, "sectors after a gap, a late and an early sample")

	v := e.Configure(m, sid(mm2.Gateway, 2), mm2.EVT, 0)
	stamps := []int64{e.Now(), e.Now(), e.Now() + 5, e.Now() - 7, 0, -1, 1 << 40, math.MaxInt64, math.MinInt64, e.Now() + 1}
	for i, ts := range stamps {
		e.NoErr(v.WriteEVT(uint32(1000+i), ts), "WriteEVT at %d", ts)
	}
	evs := readAll(e, v)
	Eq(e, len(evs), len(stamps), "EVT records")
	for i, smp := range evs {
		Eq(e, [2]int64{int64(smp.Value), smp.UTCms}, [2]int64{int64(1000 + i), stamps[i]}, "event %d", i)
	}
	dense := e.Configure(m, sid(mm2.Gateway, 3), mm2.EVT, 0)
	writeEVT(e, dense, 12, 0, 10)
	perSec := float64(12) / float64(dense.Stats().SectorsRAM)
	e.True(perSec >= 2, "%.1f events per sector, the seed's density is 2", perSec)
	for _, s := range []*mm2.Stream{t, v} {
		_, err := s.Ack()
		e.NoErr(err, "Ack")
	}
	e.Fig("tsd", len(got))
	e.Fig("evt", len(evs)+12)
	e.Fig("tsd_per_sector", per)
	e.Fig("evt_per_sector", fmt.Sprintf("%.1f", perSec))
}

// 10: a manager's whole life: open, UTC, configure, write, read, NACK,
// re-read, ACK, power-down and abort, drain, close.
func testLifecycle(e *Env) {
	p := e.Profile()
	opts := e.Options()
	m := e.OpenWith(opts)
	if p.NeedUTC {
		m.SetUTCAvailable(true)
	}
	t := e.Configure(m, sid(mm2.CAN, 10), mm2.TSD, ms(250))
	v := e.Configure(m, sid(mm2.CAN, 11), mm2.EVT, 0)
	e.NoErr(m.SetGPS(mm2.CAN, mm2.GPSConfig{Latitude: 20, Longitude: 21, Altitude: 22, Speed: 23}), "SetGPS")
	writeTSD(e, t, 40, 1)
	for i := range 10 {
		e.NoErr(v.WriteEventWithGPS(uint32(i), mm2.GPSFix{Latitude: 52.1, Longitude: 4.3, Altitude: 10, Speed: float32(i)}), "GPS event")
		e.Advance(1000)
	}
	buf := make([]mm2.Sample, 25)
	n, err := t.ReadBulk(buf)
	e.NoErr(err, "ReadBulk")
	first := slices.Clone(buf[:n])
	k, err := t.Nack()
	e.NoErr(err, "Nack")
	Eq(e, k, n, "NACKed")
	n, err = t.ReadBulk(buf)
	e.NoErr(err, "ReadBulk after NACK")
	e.True(slices.Equal(buf[:n], first), "records after NACK differ: %v, want %v", buf[:n], first)
	k, err = t.Ack()
	e.NoErr(err, "Ack")
	Eq(e, k, 25, "acked")

	e.NoErr(m.PowerDown(context.Background()), "PowerDown")
	e.Is(t.WriteTSD(1), mm2.ErrPoweringDown, "write during power-down")
	rest := readAll(e, t)
	wantSeqs(e, rest, 26, "reads during power-down")
	_, err = t.Ack()
	e.NoErr(err, "Ack during power-down")
	e.NoErr(m.PowerAbort(), "PowerAbort")
	writeTSD(e, t, 3, 100)
	for _, id := range m.Streams() {
		s, err := m.Stream(id)
		e.NoErr(err, "Stream")
		if s.Counts().Total == 0 {
			continue
		}
		readAll(e, s)
		_, err = s.Ack()
		e.NoErr(err, "drain %v", id)
	}
	st := m.Stats()
	Eq(e, [2]int{st.SectorsUsed, st.ActiveStreams}, [2]int{0, 0}, "used sectors/active streams after draining")
	Eq(e, st.Frees, st.Allocations, "frees = allocations")
	e.Fig("streams", st.Streams)
	e.Fig("allocations", st.Allocations)
	e.Close(m)
	_, err = t.Read()
	e.Is(err, mm2.ErrClosed, "Read after Close")

	if e.Backend() == Disk {
		// Sequence numbers survive a restart.
		m2 := e.OpenWith(opts)
		m2.SetUTCAvailable(true)
		t2 := e.Configure(m2, t.ID(), mm2.TSD, ms(250))
		writeTSD(e, t2, 1, 7)
		smp, err := t2.Read()
		e.NoErr(err, "Read after reopening")
		e.True(smp.Seq > 43, "sequence number %d reused after a restart", smp.Seq)
	} else {
		keep := e.Open(nil) // the end-of-test verification needs an open manager
		e.Configure(keep, t.ID(), mm2.TSD, ms(250))
	}
}

// 13: the backend is what it says. Mock: RAM only, a round trip without any
// directory, and the default data directory is not created. Disk: a round
// trip through the directory, across a close and reopen.
func testStorageBackend(e *Env) {
	switch e.Backend() {
	case Mock:
		const defaultDir = "mm2-data"
		_, statErr := os.Stat(defaultDir)
		existed := statErr == nil
		o := e.Options()
		Eq(e, o.Dir, "", "mock options directory")
		m := e.Open(nil)
		st := m.Stats()
		Eq(e, st.Backend, "mock", "Stats.Backend")
		s := e.Configure(m, sid(mm2.Gateway, 13), mm2.TSD, ms(10))
		writeTSD(e, s, 50, 1)
		got := readAll(e, s)
		wantValues(e, got, 1, "mock round trip")
		e.NoErr(m.PowerDown(context.Background()), "PowerDown (nothing to spool)")
		e.NoErr(m.PowerAbort(), "PowerAbort")
		_, err := s.Ack()
		e.NoErr(err, "Ack")
		Eq(e, m.Stats().Footprint, m.Footprint(), "footprint")
		if _, err := os.Stat(defaultDir); !existed && err == nil {
			e.Failf("the mock backend created %s", defaultDir)
		}
		e.Fig("backend", "mock")
		e.Fig("records", len(got))
		e.Fig("footprint", m.Footprint())
	case Disk:
		opts := e.Options()
		m := e.OpenWith(opts)
		m.SetUTCAvailable(true)
		Eq(e, m.Stats().Backend, "disk", "Stats.Backend")
		t := e.Configure(m, sid(mm2.Gateway, 13), mm2.TSD, ms(10))
		v := e.Configure(m, sid(mm2.CAN, 13), mm2.EVT, 0)
		writeTSD(e, t, 20, 1)
		writeEVT(e, v, 10, 1, 3)
		readN(e, t, 5)
		_, err := t.Ack()
		e.NoErr(err, "Ack")
		readN(e, t, 3) // pending at close: delivered again after the restart
		e.Close(m)
		entries, err := os.ReadDir(opts.Dir)
		e.NoErr(err, "reading the store directory")
		e.True(len(entries) > 0, "the disk backend left %s empty", opts.Dir)
		m2 := e.OpenWith(opts)
		m2.SetUTCAvailable(true)
		t2 := e.Configure(m2, t.ID(), mm2.TSD, ms(10))
		v2 := e.Configure(m2, v.ID(), mm2.EVT, 0)
		e.WantCounts(t2, 15, 0, "TSD after the restart")
		e.WantCounts(v2, 10, 0, "EVT after the restart")
		got := readAll(e, t2)
		wantSeqs(e, got, 6, "TSD after the restart")
		wantValues(e, got, 6, "TSD after the restart")
		evs := readAll(e, v2)
		wantSeqs(e, evs, 1, "EVT after the restart")
		wantValues(e, evs, 1, "EVT after the restart")
		e.Fig("backend", "disk")
		e.Fig("records", len(got)+len(evs))
		e.Fig("files", len(entries))
	}
}

// 11: the v1 calls mapped onto the API: write, read, revert, re-read, erase,
// with the v1 result codes.
func testLegacy(e *Env) {
	l, r := imxSatInit(e)
	Eq(e, r, imxSuccess, "imx_sat_init")
	src := mm2.Hosted
	tsdCSB := controlSensorBlock{id: 10, sampleRate: 1000}
	evtCSB := controlSensorBlock{id: 11}
	var tsdCSD, evtCSD controlSensorData
	want := func(got, want imxResult, what string, a ...any) { Eq(e, got, want, what, a...) }
	for i := range 8 {
		want(l.writeTsdEvt(src, tsdCSB, &tsdCSD, uint32(100+i), false, mm2.GPSFix{}), imxSuccess, "write_tsd_evt %d", i)
		e.Advance(1000)
	}
	var stamps []int64
	for i := range 5 {
		stamps = append(stamps, e.Now()-int64(100*i))
		want(l.writeTsdEvtTime(src, evtCSB, &evtCSD, uint32(200+i), stamps[i]), imxSuccess, "write_tsd_evt_time %d", i)
	}
	want(l.writeTsdEvt(src, evtCSB, &evtCSD, 205, false, mm2.GPSFix{}), imxSuccess, "write_tsd_evt of an event")
	stamps = append(stamps, e.Now())
	read := func(csb controlSensorBlock, csd *controlSensorData, n int) []mm2.Sample {
		var out []mm2.Sample
		for i := range n {
			smp, r := l.readTsdEvt(src, csb, csd)
			want(r, imxSuccess, "read_tsd_evt %d of sensor %d", i, csb.id)
			out = append(out, smp)
		}
		return out
	}
	first := read(tsdCSB, &tsdCSD, 3)
	wantValues(e, first, 100, "read_tsd_evt")
	e.WantCounts(tsdCSD.handles[src], 5, 3, "after three reads")
	want(l.revertTsdEvtPendingData(src, tsdCSB, &tsdCSD), imxSuccess, "revert_tsd_evt_pending_data")
	e.WantCounts(tsdCSD.handles[src], 8, 0, "after the revert")
	again := read(tsdCSB, &tsdCSD, 3)
	e.True(slices.Equal(first, again), "records after the revert %v, before %v", again, first)
	want(l.eraseTsdEvt(src, tsdCSB, &tsdCSD), imxSuccess, "erase_tsd_evt")
	e.WantCounts(tsdCSD.handles[src], 5, 0, "after the erase")
	wantSeqs(e, read(tsdCSB, &tsdCSD, 5), 4, "reads after the erase")
	want(l.eraseTsdEvt(src, tsdCSB, &tsdCSD), imxSuccess, "second erase_tsd_evt")
	_, r = l.readTsdEvt(src, tsdCSB, &tsdCSD)
	want(r, imxNoData, "read_tsd_evt of an empty sensor")
	want(l.eraseTsdEvt(src, tsdCSB, &tsdCSD), imxNoData, "erase_tsd_evt with nothing pending")
	want(l.revertTsdEvtPendingData(src, tsdCSB, &tsdCSD), imxNoData, "revert with nothing pending")

	evs := read(evtCSB, &evtCSD, 6)
	for i, smp := range evs {
		Eq(e, [2]int64{int64(smp.Value), smp.UTCms}, [2]int64{int64(200 + i), stamps[i]}, "event %d", i)
	}
	want(l.eraseTsdEvt(src, evtCSB, &evtCSD), imxSuccess, "erase_tsd_evt of the events")

	// Refused calls: the wrong kind, an unknown sensor, another source.
	want(l.writeTsdEvt(src, controlSensorBlock{id: 10}, &tsdCSD, 1, false, mm2.GPSFix{}), imxInvalidEntry, "an event to a TSD sensor")
	_, r = l.readTsdEvt(src, controlSensorBlock{id: 99}, &controlSensorData{})
	want(r, imxInvalidEntry, "read_tsd_evt of an unknown sensor")
	_, r = l.readTsdEvt(mm2.CAN, tsdCSB, &tsdCSD)
	want(r, imxInvalidEntry, "read_tsd_evt under a source the sensor never wrote to")
	e.WantCounts(tsdCSD.handles[src], 0, 0, "at the end")
	e.Fig("legacy_calls", l.calls)
}
