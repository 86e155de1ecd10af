package selftest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mm2go/mm2"
)

// Tests 100+n: production bug n of SPEC §12, each shown impossible. Bugs 3
// (pending records read from disk never erased) and 13 (data lost on service
// stop) concern the disk tier: tests 103 and 113 are in disk_bugs.go.
func init() {
	register(Test{Num: 101, Name: "bug 1: read cursor lost at the end of a chain", Run: bugCursorAtChainEnd})
	register(Test{Num: 102, Name: "bug 2: timestamp 0 treated as erased", Run: bugTimestampZero})
	register(Test{Num: 104, Name: "bug 4: sector count from end-start+1", Run: bugSectorCount})
	register(Test{Num: 105, Name: "bug 5: source changed between read and ACK", Run: bugSourceBetweenReadAndAck})
	register(Test{Num: 106, Name: "bug 6: new data behind pending data unreachable", Run: bugNewBehindPending})
	register(Test{Num: 107, Name: "bug 7: new-sample count of an empty stream", Run: bugEmptyCount})
	register(Test{Num: 108, Name: "bug 8: writes filed under another source", Run: bugWrongSource})
	register(Test{Num: 109, Name: "bug 9: TSD written into an EVT sector", Run: bugKindMix})
	register(Test{Num: 110, Name: "bug 10: sector freed while reachable (count-then-read race)", Run: bugCountThenRead})
	register(Test{Num: 111, Name: "bug 11: pool full because maintenance never ran", Run: bugNoMaintenance})
	register(Test{Num: 112, Name: "bug 12: owner mismatches after reuse, unbounded chain walk", Run: bugReuseWhileLinked})
	register(Test{Num: 114, Name: "bug 14: NACKed records erased by the next ACK", Run: bugNackErased})
	register(Test{Num: 115, Name: "bug 15: ACK on one source erasing another's unsent data", Run: bugAckOtherSource})
	register(Test{Num: 116, Name: "bug 16: 16-bit counter underflow, pending beyond data", Run: bugCounterUnderflow})
}

// 101: reading to the very end of a full sector (and of the chain) leaves the
// cursor where the next write lands, for both kinds, pending or acknowledged.
func bugCursorAtChainEnd(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	t := e.Configure(m, sid(mm2.Gateway, 1), mm2.TSD, ms(10))
	writeTSD(e, t, per, 1)
	wantSeqs(e, readN(e, t, per), 1, "a full sector")
	writeTSD(e, t, 1, 100)
	smp, err := t.Read()
	e.NoErr(err, "read after the end of a full sector (pending before it)")
	Eq(e, [2]uint64{smp.Seq, uint64(smp.Value)}, [2]uint64{uint64(per + 1), 100}, "record after the sector end")
	_, err = t.Ack()
	e.NoErr(err, "Ack")
	writeTSD(e, t, 1, 101)
	smp, err = t.Read()
	e.NoErr(err, "read after everything was acknowledged")
	Eq(e, smp.Seq, uint64(per+2), "record after an empty chain")

	v := e.Configure(m, sid(mm2.Gateway, 2), mm2.EVT, 0)
	for v.Stats().SectorsRAM < 2 {
		writeEVT(e, v, 1, 0, 1)
	}
	full := int(v.Stats().Written) - 1 // the events that filled the first sector
	readAll(e, v)
	_, err = v.Ack()
	e.NoErr(err, "Ack")
	writeEVT(e, v, 1, 55, 1)
	smp, err = v.Read()
	e.NoErr(err, "EVT read after the chain end")
	Eq(e, [2]uint64{smp.Seq, uint64(smp.Value)}, [2]uint64{uint64(full + 2), 55}, "event after the chain end")
	e.Fig("tsd_per_sector", per)
	e.Fig("evt_per_sector", full)
}

// 102: a timestamp of 0 (and negative ones) is data like any other.
func bugTimestampZero(e *Env) {
	m := e.Open(nil)
	v := e.Configure(m, sid(mm2.CAN, 2), mm2.EVT, 0)
	for _, ts := range []int64{0, 0, -1, 1, 0} {
		e.NoErr(v.WriteEVT(uint32(ts+10), ts), "WriteEVT at %d", ts)
	}
	e.WantCounts(v, 5, 0, "events at time 0")
	got := readAll(e, v)
	for i, ts := range []int64{0, 0, -1, 1, 0} {
		Eq(e, [2]int64{got[i].UTCms, int64(got[i].Value)}, [2]int64{ts, ts + 10}, "event %d", i)
	}
	e.SetNow(0) // a clock at the epoch: the TSD base timestamp is 0
	t := e.Configure(m, sid(mm2.CAN, 3), mm2.TSD, ms(100))
	writeTSD(e, t, 3, 7)
	ts := readAll(e, t)
	Eq(e, len(ts), 3, "TSD samples from time 0")
	Eq(e, [3]int64{ts[0].UTCms, ts[1].UTCms, ts[2].UTCms}, [3]int64{0, 100, 200}, "TSD timestamps from 0")
	for _, s := range []*mm2.Stream{v, t} {
		k, err := s.Ack()
		e.NoErr(err, "Ack")
		e.True(k > 0, "nothing acknowledged")
	}
	e.Fig("records_at_zero", 6)
}

// 104: 30 records take the sectors their density says, not end−start+1.
func bugSectorCount(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	t := e.Configure(m, sid(mm2.Hosted, 1), mm2.TSD, ms(1000))
	writeTSD(e, t, 30, 1)
	want := (30 + per - 1) / per
	Eq(e, t.Stats().SectorsRAM, want, "sectors holding 30 TSD records")
	Eq(e, m.Stats().SectorsUsed, want, "pool sectors used by 30 TSD records")
	v := e.Configure(m, sid(mm2.Hosted, 2), mm2.EVT, 0)
	writeEVT(e, v, 30, 1, 1000)
	evSectors := v.Stats().SectorsRAM
	e.True(evSectors <= 15, "30 events in %d sectors (at most 15)", evSectors)
	st := m.Stats()
	Eq(e, st.SectorsUsed, want+evSectors, "pool sectors used")
	Eq(e, st.StoredRecords, uint64(60), "stored records")
	for _, s := range []*mm2.Stream{t, v} {
		readAll(e, s)
		_, err := s.Ack()
		e.NoErr(err, "Ack")
		Eq(e, s.Stats().SectorsRAM, 0, "sectors after the ACK")
	}
	e.Fig("tsd_sectors", want)
	e.Fig("evt_sectors", evSectors)
}

// 105: the ACK names the stream it acknowledges; the same sensor under
// another source is another stream, and a fresh look-up erases the right one.
func bugSourceBetweenReadAndAck(e *Env) {
	m := e.Open(nil)
	g := e.Configure(m, sid(mm2.Gateway, 42), mm2.EVT, 0)
	c := e.Configure(m, sid(mm2.CAN, 42), mm2.EVT, 0)
	writeEVT(e, g, 5, 1, 10)
	writeEVT(e, c, 5, 101, 10)
	readN(e, g, 5)
	_, err := c.Ack()
	e.Is(err, mm2.ErrNoData, "ACK under the other source")
	e.WantCounts(g, 0, 5, "the read source after an ACK under the other")
	e.WantCounts(c, 5, 0, "the other source")
	again, err := m.Stream(sid(mm2.Gateway, 42))
	e.NoErr(err, "Stream")
	k, err := again.Ack()
	e.NoErr(err, "ACK through a fresh look-up")
	Eq(e, k, 5, "erased")
	e.WantCounts(g, 0, 0, "after the ACK")
	e.WantCounts(c, 5, 0, "the other source after the ACK")
	Eq(e, g.Stats().SectorsRAM, 0, "sectors of the acknowledged stream")

	// The same through the v1 calls: the upload source is an argument.
	l := &legacy{m: m, now: e.Now}
	csb := controlSensorBlock{id: 43}
	var csd controlSensorData
	Eq(e, l.writeTsdEvt(mm2.BLE, csb, &csd, 1, false, mm2.GPSFix{}), imxSuccess, "write under BLE")
	_, r := l.readTsdEvt(mm2.BLE, csb, &csd)
	Eq(e, r, imxSuccess, "read under BLE")
	Eq(e, l.eraseTsdEvt(mm2.CAN, csb, &csd), imxInvalidEntry, "erase under CAN")
	Eq(e, l.eraseTsdEvt(mm2.BLE, csb, &csd), imxSuccess, "erase under BLE")
	e.WantCounts(csd.handles[mm2.BLE], 0, 0, "v1 stream after the erase")
	e.Fig("sources", 3)
}

// 106: records written behind pending ones are readable before any ACK.
func bugNewBehindPending(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	for _, kind := range []mm2.Kind{mm2.TSD, mm2.EVT} {
		var s *mm2.Stream
		write := func(n int, first uint32) {
			if kind == mm2.TSD {
				writeTSD(e, s, n, first)
			} else {
				writeEVT(e, s, n, first, 9)
			}
		}
		if kind == mm2.TSD {
			s = e.Configure(m, sid(mm2.BLE, 6), mm2.TSD, ms(20))
		} else {
			s = e.Configure(m, sid(mm2.BLE, 7), mm2.EVT, 0)
		}
		for round := range 3 {
			write(per-1, uint32(round*100))
			readAll(e, s)
		}
		write(per+2, 900)
		e.WantCounts(s, per+2, 3*(per-1), "%v: new records behind pending ones", kind)
		got := readAll(e, s)
		wantValues(e, got, 900, "records behind pending ones")
		wantSeqs(e, got, uint64(3*(per-1)+1), "records behind pending ones")
		k, err := s.Ack()
		e.NoErr(err, "Ack")
		Eq(e, k, 3*(per-1)+per+2, "acknowledged")
	}
	e.Fig("rounds", 3)
}

// 107: counts of a stream with no data are zero, before and after data.
func bugEmptyCount(e *Env) {
	m := e.Open(nil)
	st := m.Stats()
	e.True(!math.IsNaN(st.SpaceEfficiencyPct) && !math.IsNaN(st.UtilizationPct), "NaN in the stats of an empty manager: %+v", st)
	var ss []*mm2.Stream
	for i, k := range []mm2.Kind{mm2.TSD, mm2.EVT} {
		period := ms(0)
		if k == mm2.TSD {
			period = ms(100)
		}
		ss = append(ss, e.Configure(m, sid(mm2.Source(i), 70), k, period))
	}
	for _, s := range ss {
		e.WantCounts(s, 0, 0, "never written")
		st := s.Stats()
		e.True(!st.HasUnacked && st.SectorsRAM == 0 && st.Written == 0, "stats of an empty stream: %+v", st)
		_, err := s.Read()
		e.Is(err, mm2.ErrNoData, "Read of an empty stream")
		_, err = s.Peek(0)
		e.Is(err, mm2.ErrNoData, "Peek of an empty stream")
	}
	writeTSD(e, ss[0], 3, 1)
	writeEVT(e, ss[1], 3, 1, 10)
	for _, s := range ss {
		readAll(e, s)
		_, err := s.Ack()
		e.NoErr(err, "Ack")
		e.WantCounts(s, 0, 0, "emptied")
		e.True(!s.Stats().HasUnacked, "an emptied stream has unacknowledged data")
	}
	st = m.Stats()
	Eq(e, [3]uint64{st.New, st.Pending, uint64(st.ActiveStreams)}, [3]uint64{0, 0, 0}, "manager totals when empty")
	e.Fig("empty_streams", len(ss))
}

// 108: the same sensor id on every source: each source's records stay its
// own, and all of them are freed by their own ACKs.
func bugWrongSource(e *Env) {
	m := e.Open(nil)
	var ss []*mm2.Stream
	for src := range mm2.Source(mm2.MaxSources) {
		s := e.Configure(m, sid(src, 8), mm2.EVT, 0)
		writeEVT(e, s, 4, uint32(src)*1000, 5)
		ss = append(ss, s)
	}
	for src, s := range ss {
		e.WantCounts(s, 4, 0, "source %d", src)
		got := readAll(e, s)
		wantValues(e, got, uint32(src)*1000, fmt.Sprintf("source %d", src))
		_, err := s.Ack()
		e.NoErr(err, "Ack")
	}
	Eq(e, m.Stats().SectorsUsed, 0, "sectors after every source acknowledged")
	e.Fig("sources", len(ss))
}

// 109: a write of the other kind is refused and stores nothing; the stream
// stays readable.
func bugKindMix(e *Env) {
	m := e.Open(nil)
	t := e.Configure(m, sid(mm2.Gateway, 9), mm2.TSD, ms(100))
	v := e.Configure(m, sid(mm2.Gateway, 10), mm2.EVT, 0)
	writeTSD(e, t, 3, 1)
	writeEVT(e, v, 3, 11, 10)
	for i := range 10 {
		bt, bv := t.Stats(), v.Stats()
		e.Is(v.WriteTSD(uint32(i)), mm2.ErrKindMismatch, "TSD into an EVT stream")
		e.Is(t.WriteEVT(uint32(i), e.Now()), mm2.ErrKindMismatch, "EVT into a TSD stream")
		e.Is(t.WriteEventWithGPS(uint32(i), mm2.GPSFix{}), mm2.ErrKindMismatch, "GPS event into a TSD stream")
		streamUnchanged(e, t, bt, "refused writes")
		streamUnchanged(e, v, bv, "refused writes")
	}
	wantValues(e, readAll(e, t), 1, "TSD after refused writes")
	wantValues(e, readAll(e, v), 11, "EVT after refused writes")
	e.Check(m, "after refused writes")
	e.Fig("refused", 30)
}

// 110: writers, a counting reader and Check run concurrently; what a reader
// counted is always there to read, sequence numbers stay consecutive, and no
// sector is freed while reachable.
func bugCountThenRead(e *Env) {
	m := e.Open(func(o *mm2.Options) { o.Overflow = mm2.RejectNew })
	const records = 1500
	ss := []*mm2.Stream{
		e.Configure(m, sid(mm2.Gateway, 110), mm2.EVT, 0),
		e.Configure(m, sid(mm2.CAN, 110), mm2.EVT, 0),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	var stop sync.Once
	done := make(chan struct{})
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
		stop.Do(func() { close(done) })
	}
	var checks int64
	var checkMu sync.Mutex
	for _, s := range ss {
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			for i := 0; i < records; {
				select {
				case <-done:
					return
				default:
				}
				err := s.WriteEVT(uint32(i), int64(i))
				if errors.Is(err, mm2.ErrFull) {
					time.Sleep(50 * time.Microsecond)
					continue
				}
				if err != nil {
					report(fmt.Errorf("write %d to %v: %v", i, s.ID(), err))
					return
				}
				i++
			}
		}()
		go func() { // reader: count, then read exactly that many
			defer wg.Done()
			buf := make([]mm2.Sample, records)
			next := uint64(1)
			for next <= records {
				select {
				case <-done:
					return
				default:
				}
				c := s.Counts()
				if c.New == 0 {
					time.Sleep(20 * time.Microsecond)
					continue
				}
				n, err := s.ReadBulk(buf[:c.New])
				if err != nil || n != c.New {
					report(fmt.Errorf("%v: counted %d new, ReadBulk gave %d, %v", s.ID(), c.New, n, err))
					return
				}
				for _, smp := range buf[:n] {
					if smp.Seq != next || smp.Value != uint32(next-1) {
						report(fmt.Errorf("%v: read seq %d value %d, want seq %d", s.ID(), smp.Seq, smp.Value, next))
						return
					}
					next++
				}
				if k, err := s.Ack(); err != nil || k != n {
					report(fmt.Errorf("%v: Ack %d, %v; want %d", s.ID(), k, err, n))
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // Check while the others run
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := m.Check(); err != nil {
				report(fmt.Errorf("Check during the run: %v", err))
				return
			}
			checkMu.Lock()
			checks++
			checkMu.Unlock()
			time.Sleep(200 * time.Microsecond)
		}
	}()
	finished := make(chan struct{})
	go func() {
		// The writers and readers end by themselves; then stop the checker.
		for _, s := range ss {
			for s.Stats().Acked < records {
				select {
				case <-done:
					close(finished)
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
		stop.Do(func() { close(done) })
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		report(errors.New("timed out after 20 s"))
	}
	wg.Wait()
	select {
	case err := <-errs:
		e.Failf("%v", err)
	default:
	}
	Eq(e, m.Stats().SectorsUsed, 0, "sectors after everything was acknowledged")
	checkMu.Lock()
	e.Fig("records", 2*records)
	e.Fig("concurrent_checks", checks)
	checkMu.Unlock()
}

// 111: ACK frees sectors at once; no maintenance call is needed, so the pool
// never fills with acknowledged data.
func bugNoMaintenance(e *Env) {
	m := e.Open(func(o *mm2.Options) { o.Overflow = mm2.RejectNew })
	per := tsdPerSector(e)
	var ss []*mm2.Stream
	for i := range 4 {
		ss = append(ss, e.Configure(m, sid(mm2.Source(i), 11), mm2.TSD, ms(1)))
	}
	total := sectors(m)
	perStream := total * 9 / 10 / len(ss) * per
	peak := 0.0
	const cycles = 8
	for c := range cycles {
		for i := range perStream {
			for _, s := range ss {
				e.NoErr(s.WriteTSD(uint32(i)), "cycle %d: write", c)
			}
			e.Advance(1)
		}
		st := m.Stats()
		peak = max(peak, st.UtilizationPct)
		e.True(st.UtilizationPct >= 80, "cycle %d: the pool reached only %.0f%%", c, st.UtilizationPct)
		for _, s := range ss {
			readAll(e, s)
			_, err := s.Ack()
			e.NoErr(err, "cycle %d: Ack", c)
		}
		st = m.Stats()
		Eq(e, st.SectorsUsed, 0, "cycle %d: sectors right after the ACKs", c)
		Eq(e, st.AllocationFailures, uint64(0), "cycle %d: allocation failures", c)
	}
	e.Fig("cycles", cycles)
	e.Fig("peak_pct", fmt.Sprintf("%.0f", peak))
	e.Fig("records_per_cycle", perStream*len(ss))
}

// 112: heavy sector reuse across many streams (drops, ACKs, NACKs): every
// sector stays in exactly one chain owned by its stream, and Check's bounded
// walk stays fast.
func bugReuseWhileLinked(e *Env) {
	m := e.Open(nil)
	rng := rand.New(rand.NewPCG(e.cfg.Seed, 112))
	var ss []*mm2.Stream
	for i := range 24 {
		id := sid(mm2.Source(i%mm2.MaxSources), uint32(1200+i))
		if i%3 == 0 {
			ss = append(ss, e.Configure(m, id, mm2.EVT, 0))
		} else {
			ss = append(ss, e.Configure(m, id, mm2.TSD, ms(1+i)))
		}
	}
	total := sectors(m)
	buf := make([]mm2.Sample, 16)
	var maxCheck time.Duration
	checks := 0
	// On the mock backend the pool is reused six times over; with a disk
	// tier new sectors spill at the threshold, so the run is bounded by steps.
	enough := func(step int) bool {
		if e.Backend() == Mock {
			return m.Stats().Allocations >= uint64(6*total) || step >= 400_000
		}
		return step >= 5_000
	}
	for step := 0; !enough(step); step++ {
		s := ss[rng.IntN(len(ss))]
		var err error
		switch r := rng.IntN(100); {
		case r < 80:
			e.Advance(int64(rng.IntN(30)))
			if s.Kind() == mm2.TSD {
				err = s.WriteTSD(uint32(step))
			} else {
				err = s.WriteEVT(uint32(step), e.Now())
			}
		case r < 88:
			_, err = s.ReadBulk(buf[:1+rng.IntN(len(buf))])
		case r < 95:
			_, err = s.Ack()
		default:
			_, err = s.Nack()
		}
		if err != nil && !errors.Is(err, mm2.ErrNoData) && !errors.Is(err, mm2.ErrFull) {
			e.Failf("step %d: %v", step, err)
		}
		if step%64 == 0 {
			start := time.Now()
			e.Check(m, "step %d", step)
			maxCheck = max(maxCheck, time.Since(start))
			checks++
			inChains := 0
			for _, x := range ss {
				inChains += x.Stats().SectorsRAM
			}
			Eq(e, inChains, m.Stats().SectorsUsed, "step %d: sectors in chains vs used", step)
		}
	}
	st := m.Stats()
	if e.Backend() == Mock {
		e.True(st.Allocations >= uint64(6*total), "only %d allocations for a %d-sector pool", st.Allocations, total)
	}
	e.True(maxCheck < 5*time.Second, "a Check took %v", maxCheck)
	e.Fig("allocations", st.Allocations)
	e.Fig("reuse_factor", st.Allocations/uint64(total))
	e.Fig("drops", st.Drops.Total())
	e.Fig("checks", checks)
	e.Fig("max_check", maxCheck.Round(time.Microsecond))
}

// 114: after a NACK nothing is pending, so the next ACK erases nothing; the
// NACKed records are delivered again.
func bugNackErased(e *Env) {
	m := e.Open(nil)
	s := e.Configure(m, sid(mm2.Hosted, 14), mm2.EVT, 0)
	writeEVT(e, s, 5, 1, 10)
	first := readN(e, s, 5)
	k, err := s.Nack()
	e.NoErr(err, "Nack")
	Eq(e, k, 5, "NACKed")
	_, err = s.Ack()
	e.Is(err, mm2.ErrNoData, "ACK right after a NACK")
	e.WantCounts(s, 5, 0, "after NACK then ACK")
	again := readN(e, s, 5)
	for i := range first {
		Eq(e, again[i], first[i], "resent record %d", i)
	}
	k, err = s.Ack()
	e.NoErr(err, "Ack of the resent records")
	Eq(e, k, 5, "acknowledged")
	e.Fig("resent", 5)
}

// 115: an ACK on one source never touches another source's records, read or not.
func bugAckOtherSource(e *Env) {
	m := e.Open(nil)
	var ss []*mm2.Stream
	for src := range mm2.Source(4) {
		s := e.Configure(m, sid(src, 15), mm2.TSD, ms(10))
		writeTSD(e, s, 10, uint32(src)*10)
		ss = append(ss, s)
	}
	readN(e, ss[0], 4)
	readN(e, ss[1], 2)
	for i, s := range ss {
		if i == 0 {
			continue
		}
		before := s.Stats()
		_, err := ss[0].Ack()
		if i == 1 {
			e.NoErr(err, "Ack of source 0")
		} else {
			e.Is(err, mm2.ErrNoData, "second Ack of source 0")
		}
		streamUnchanged(e, s, before, "ACK on source %v", ss[0].ID().Source)
	}
	e.WantCounts(ss[1], 8, 2, "the source that had read")
	e.WantCounts(ss[2], 10, 0, "a source that had not read")
	k, err := ss[1].Ack()
	e.NoErr(err, "Ack of source 1")
	Eq(e, k, 2, "acknowledged on source 1")
	e.Fig("sources", len(ss))
}

// 116: counts cannot underflow or exceed the data: ACK and NACK with nothing
// pending change nothing, sequence numbers run past 65,535, counts stay
// within what the pool holds under heavy dropping.
func bugCounterUnderflow(e *Env) {
	m := e.Open(nil)
	s := e.Configure(m, sid(mm2.CAN, 16), mm2.TSD, ms(1))
	for range 3 {
		_, err := s.Ack()
		e.Is(err, mm2.ErrNoData, "Ack of an empty stream")
		_, err = s.Nack()
		e.Is(err, mm2.ErrNoData, "Nack of an empty stream")
		e.WantCounts(s, 0, 0, "after ACK/NACK of an empty stream")
	}
	// Another stream holds pending records all along: dropping never takes them.
	p := e.Configure(m, sid(mm2.CAN, 17), mm2.EVT, 0)
	writeEVT(e, p, 10, 1, 1)
	readN(e, p, 10)
	const n = 70_000
	capacity := (sectors(m) - p.Stats().SectorsRAM) * tsdPerSector(e)
	if e.Backend() != Mock {
		capacity = n // a disk tier holds them all
	}
	for i := 1; i <= n; i++ {
		e.NoErr(s.WriteTSD(uint32(i)), "write %d", i)
		e.Advance(1)
		if i%1000 == 0 {
			c := e.Counts(s)
			e.True(c.Total <= capacity && c.Pending <= c.Total && c.Total == c.New+c.Pending, "after %d writes: counts %+v, pool holds %d", i, c, capacity)
		}
	}
	e.WantCounts(p, 0, 10, "the stream with pending records")
	ss := s.Stats()
	Eq(e, ss.Written, uint64(n), "written")
	c := e.Counts(s)
	e.True(c.Total <= capacity && c.Total > 0, "counts %+v, pool holds %d", c, capacity)
	Eq(e, ss.Drops.RAMFull+uint64(c.Total), uint64(n), "dropped + stored = written")
	rest := readAll(e, s)
	last := rest[len(rest)-1]
	Eq(e, [2]uint64{last.Seq, uint64(last.Value)}, [2]uint64{n, n}, "last record")
	k, err := s.Ack()
	e.NoErr(err, "Ack")
	Eq(e, k, c.Total, "acknowledged")
	e.WantCounts(s, 0, 0, "after the final ACK")
	e.Fig("written", n)
	e.Fig("last_seq", last.Seq)
	e.Fig("drops", ss.Drops.RAMFull)
}
