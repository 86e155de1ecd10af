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

// Tests 100+n: production bug n of SPEC §12, each shown impossible. This is
// the one place each §12 scenario is written: the Go tests of this package
// run it for every profile on the mock backend (TestAllProfilesMock) and on
// the disk backend (TestDiskBackend), and `mm2 selftest` runs it in the
// field. Where each item is proven:
//
//	 1 cursor "none" at a chain end      101
//	 2 timestamp 0 taken as erased       102
//	 3 pending read from disk stuck      103 (disk_bugs.go, disk backend)
//	 4 sectors counted as end−start+1    104
//	 5 upload source changed before ACK  105; uplink: TestAckGoesToTheBatchStreamsAfterRotationMovedOn
//	 6 new data behind pending unread    106
//	 7 garbage count of an empty stream  107
//	 8 writes filed under another source 108; uplink: TestSourcesAreNeverMixedInABatch
//	 9 TSD written into an EVT sector    109
//	10 freed while reachable (race)      110
//	11 pool full, maintenance never ran  111
//	12 reuse while linked, endless walk  112; mm2: TestChainWalkIsBounded (bugs_internal_test.go,
//	                                     a corrupted chain table, which needs the package's internals)
//	13 data lost on service stop         113 (disk_bugs.go, disk backend); cmd/mm2: TestRunEndToEnd (SIGTERM)
//	14 NACKed records erased by next ACK 114; uplink: TestNackedRecordsAreResentAndNotErasedByLaterAck
//	15 ACK erasing another source's data 115; uplink: TestAckOnOneSourceNeverErasesAnotherSourcesData
//	16 16-bit counters, pending > data   116
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
// cursor where the next write lands, for both kinds, pending or acknowledged;
// and a reader that catches up after every write (one by one, in bulk, or
// acknowledging every fifth record) finds each next record at every position
// in a sector, and ErrNoData past the end.
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

	const caughtUp = 40
	for i, kind := range []mm2.Kind{mm2.TSD, mm2.EVT} {
		for j, mode := range []string{"Read", "ReadBulk", "Read+Ack"} {
			s := e.Configure(m, sid(mm2.CAN, uint32(10+3*i+j)), kind, periodOf(kind))
			catchUp(e, m, s, mode, caughtUp)
		}
	}
	e.Fig("tsd_per_sector", per)
	e.Fig("evt_per_sector", full)
	e.Fig("caught_up_writes", 6*caughtUp)
}

// catchUp writes n records to s, each read right after its write by mode,
// and the read after it finds nothing; Check runs after every step.
func catchUp(e *Env, m *mm2.Manager, s *mm2.Stream, mode string, n int) {
	buf := make([]mm2.Sample, 4)
	for i := 1; i <= n; i++ {
		writeOne(e, s, uint32(i))
		var smp mm2.Sample
		if mode == "ReadBulk" {
			k, err := s.ReadBulk(buf)
			e.NoErr(err, "%v %s after write %d", s.ID(), mode, i)
			Eq(e, k, 1, "%v %s after write %d: records", s.ID(), mode, i)
			smp = buf[0]
		} else {
			var err error
			smp, err = s.Read()
			e.NoErr(err, "%v %s after write %d", s.ID(), mode, i)
		}
		Eq(e, [2]uint64{smp.Seq, uint64(smp.Value)}, [2]uint64{uint64(i), uint64(i)}, "%v %s: record after write %d", s.ID(), mode, i)
		if mode == "Read+Ack" && i%5 == 0 {
			k, err := s.Ack()
			e.NoErr(err, "%v: Ack after write %d", s.ID(), i)
			Eq(e, k, 5, "%v: acknowledged after write %d", s.ID(), i)
		}
		_, err := s.Read()
		e.Is(err, mm2.ErrNoData, "%v %s: read past the end after write %d", s.ID(), mode, i)
		e.Check(m, "%v %s: write and read %d", s.ID(), mode, i)
	}
	acked := uint64(0)
	if mode == "Read+Ack" {
		acked = uint64(n)
	}
	wantPositions(e, s, acked, uint64(n), uint64(n), fmt.Sprintf("%v %s", s.ID(), mode))
	if acked == 0 {
		k, err := s.Ack()
		e.NoErr(err, "%v: Ack", s.ID())
		Eq(e, k, n, "%v: acknowledged", s.ID())
	}
}

// 102: a timestamp of 0 (and negative ones) is data like any other: stored,
// counted, the oldest unacknowledged time, read back and acknowledged.
func bugTimestampZero(e *Env) {
	m := e.Open(nil)
	v := e.Configure(m, sid(mm2.CAN, 2), mm2.EVT, 0)
	for _, ts := range []int64{0, 0, -1, 1, 0} {
		e.NoErr(v.WriteEVT(uint32(ts+10), ts), "WriteEVT at %d", ts)
	}
	e.WantCounts(v, 5, 0, "events at time 0")
	st := v.Stats()
	e.True(st.HasUnacked && st.OldestUnackedMs == 0, "oldest unacknowledged %d (has %v), want 0", st.OldestUnackedMs, st.HasUnacked)
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
		want := int(s.Stats().Counts.Pending)
		k, err := s.Ack()
		e.NoErr(err, "Ack")
		Eq(e, k, want, "%v: acknowledged", s.ID())
	}
	e.Fig("records_at_zero", 6)
}

// 104: 30 records take the sectors their density says, not end−start+1,
// even when another stream's sectors lie between theirs (ids spread over
// half the pool); the pool's figure is the sum of the streams'.
func bugSectorCount(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	t := e.Configure(m, sid(mm2.Hosted, 1), mm2.TSD, ms(1000))
	other := e.Configure(m, sid(mm2.Hosted, 3), mm2.TSD, ms(1000))
	writeTSD(e, t, per, 1) // one full sector at the low end of the pool
	spread := sectors(m) / 2
	writeTSD(e, other, spread*per, 1) // half the pool after it: below the spill threshold
	writeTSD(e, t, 30-per, uint32(per+1))
	want := (30 + per - 1) / per
	Eq(e, t.Stats().SectorsRAM, want, "sectors holding 30 TSD records")
	Eq(e, other.Stats().SectorsRAM, spread, "sectors of the stream in between")
	Eq(e, m.Stats().SectorsUsed, want+spread, "pool sectors used")
	readAll(e, other)
	_, err := other.Ack()
	e.NoErr(err, "Ack of the stream in between")
	Eq(e, t.Stats().SectorsRAM, want, "sectors holding 30 TSD records after the other stream's ACK")
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
	Eq(e, m.Stats().SectorsUsed, 0, "pool sectors used after every ACK")
	e.Fig("tsd_sectors", want)
	e.Fig("evt_sectors", evSectors)
	e.Fig("sectors_between", spread)
}

// 105: the ACK names the stream it acknowledges; the same sensor under
// another source is another stream, and a fresh look-up erases the right one.
// When the uploader reads another source between a read and its ACK, both
// have records in flight: the ACK erases exactly its own, and each reads on
// from where it was.
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

	g2 := e.Configure(m, sid(mm2.Gateway, 44), mm2.EVT, 0)
	c2 := e.Configure(m, sid(mm2.CAN, 44), mm2.EVT, 0)
	for i := uint32(1); i <= 10; i++ {
		writeOne(e, g2, i)
		writeOne(e, c2, 100+i)
	}
	wantSeqs(e, readN(e, g2, 4), 1, "gateway batch")
	wantValues(e, readN(e, c2, 3), 101, "CAN batch read before the gateway's ACK")
	k, err = g2.Ack()
	e.NoErr(err, "gateway ACK after the uploader moved to CAN")
	Eq(e, k, 4, "gateway records erased")
	e.WantCounts(g2, 6, 0, "gateway after its ACK")
	e.WantCounts(c2, 7, 3, "CAN after the gateway's ACK")
	Eq(e, readN(e, g2, 1)[0].Seq, uint64(5), "gateway read after its ACK")
	k, err = c2.Ack()
	e.NoErr(err, "CAN ACK")
	Eq(e, k, 3, "CAN records erased")
	smp := readN(e, c2, 1)[0]
	Eq(e, [2]uint64{smp.Seq, uint64(smp.Value)}, [2]uint64{4, 104}, "CAN read after its ACK")

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

// 106: records written behind pending ones are readable before any ACK,
// one by one and in bulk, across sector boundaries.
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
		got := append(readN(e, s, 1), readAll(e, s)...)
		Eq(e, len(got), per+2, "%v: records behind pending ones", kind)
		wantValues(e, got, 900, "records behind pending ones")
		wantSeqs(e, got, uint64(3*(per-1)+1), "records behind pending ones")
		k, err := s.Ack()
		e.NoErr(err, "Ack")
		Eq(e, k, 3*(per-1)+per+2, "acknowledged")
	}
	e.Fig("rounds", 3)
}

// 107: counts of a stream with no data are zero and every read finds
// nothing, before and after data, while another stream holds data in the
// same pool.
func bugEmptyCount(e *Env) {
	m := e.Open(nil)
	st := m.Stats()
	e.True(!math.IsNaN(st.SpaceEfficiencyPct) && !math.IsNaN(st.UtilizationPct), "NaN in the stats of an empty manager: %+v", st)
	busy := e.Configure(m, sid(mm2.Hosted, 71), mm2.TSD, ms(100))
	writeTSD(e, busy, 50, 1)
	empty := func(s *mm2.Stream, what string) {
		e.WantCounts(s, 0, 0, "%v %s", s.ID(), what)
		st := s.Stats()
		e.True(!st.HasUnacked && st.SectorsRAM == 0 && st.Counts == (mm2.Counts{}), "%v %s: stats of an empty stream: %+v", s.ID(), what, st)
		_, err := s.Read()
		e.Is(err, mm2.ErrNoData, "%v %s: Read", s.ID(), what)
		_, err = s.Peek(0)
		e.Is(err, mm2.ErrNoData, "%v %s: Peek", s.ID(), what)
		n, err := s.ReadBulk(make([]mm2.Sample, 8))
		e.Is(err, mm2.ErrNoData, "%v %s: ReadBulk", s.ID(), what)
		Eq(e, n, 0, "%v %s: records from ReadBulk", s.ID(), what)
		e.Check(m, "%v %s", s.ID(), what)
	}
	var ss []*mm2.Stream
	for i, k := range []mm2.Kind{mm2.TSD, mm2.EVT} {
		ss = append(ss, e.Configure(m, sid(mm2.Source(i), 70), k, periodOf(k)))
	}
	for _, s := range ss {
		empty(s, "never written")
		Eq(e, s.Stats().Written, uint64(0), "%v: written", s.ID())
	}
	writeTSD(e, ss[0], 9, 1)
	writeEVT(e, ss[1], 9, 1, 10)
	for _, s := range append(ss, busy) {
		readAll(e, s)
		_, err := s.Ack()
		e.NoErr(err, "Ack")
		empty(s, "emptied")
	}
	st = m.Stats()
	Eq(e, [3]uint64{st.New, st.Pending, uint64(st.ActiveStreams)}, [3]uint64{0, 0, 0}, "manager totals when empty")
	e.Fig("empty_streams", len(ss)+1)
}

// 108: the same sensor ids on every source, one TSD and one EVT stream each,
// written in turn: each source's records stay its own, and all of them are
// freed by their own ACKs.
func bugWrongSource(e *Env) {
	m := e.Open(nil)
	var ss []*mm2.Stream
	for src := range mm2.Source(mm2.MaxSources) {
		ss = append(ss, e.Configure(m, sid(src, 8), mm2.EVT, 0), e.Configure(m, sid(src, 9), mm2.TSD, ms(100)))
	}
	value := func(s *mm2.Stream, i int) uint32 { return uint32(s.ID().Source)<<16 | s.ID().Sensor<<8 | uint32(i) }
	const per = 10
	for i := range per {
		for _, s := range ss {
			if s.Kind() == mm2.TSD {
				e.NoErr(s.WriteTSD(value(s, i)), "WriteTSD to %v", s.ID())
			} else {
				e.NoErr(s.WriteEVT(value(s, i), e.Now()), "WriteEVT to %v", s.ID())
			}
		}
		e.Advance(100)
	}
	for _, s := range ss {
		e.WantCounts(s, per, 0, "%v", s.ID())
		got := readAll(e, s)
		Eq(e, len(got), per, "records of %v", s.ID())
		for i, smp := range got {
			Eq(e, smp.Value, value(s, i), "%v: record %d (another source's data?)", s.ID(), i)
		}
		_, err := s.Ack()
		e.NoErr(err, "Ack")
	}
	st := m.Stats()
	Eq(e, [2]int{st.SectorsUsed, st.SectorsFree}, [2]int{0, st.SectorsTotal}, "sectors used and free after every source acknowledged")
	e.Fig("sources", mm2.MaxSources)
	e.Fig("streams", len(ss))
}

// 109: a write of the other kind, and a GPS configuration or a Configure
// that would mix kinds, is refused and stores or configures nothing; the
// streams stay readable.
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
	before := snap(e, m)
	e.Is(m.SetGPS(mm2.Gateway, gps(9, 110, 111, 112)), mm2.ErrKindMismatch, "SetGPS naming a TSD stream")
	_, err := m.Configure(t.ID(), mm2.EVT, 0)
	e.Is(err, mm2.ErrKindMismatch, "Configure of a TSD stream as EVT")
	_, err = m.Configure(v.ID(), mm2.TSD, time.Second)
	e.Is(err, mm2.ErrKindMismatch, "Configure of an EVT stream as TSD")
	unchanged(e, m, before, "refused SetGPS and Configure")
	Eq(e, len(m.Streams()), 2, "streams after the refused calls")
	wantValues(e, readAll(e, t), 1, "TSD after refused writes")
	wantValues(e, readAll(e, v), 11, "EVT after refused writes")
	e.Check(m, "after refused writes")
	e.Fig("refused", 33)
}

// 110: writers, a counting reader and Check run concurrently; what a reader
// counted is always there to read, sequence numbers stay consecutive, and no
// sector is freed while reachable: not under reject-new, not under
// drop-oldest while records are in flight, not while readers race with
// writers on a full pool.
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
	pendingSurvivesDrops(e)
	racingReadersSeeIntact(e)
}

// pendingSurvivesDrops is the first half of 110 under drop-oldest: a stream's
// records in flight stay while another stream overwrites the pool three
// times, and a NACK delivers exactly what was read.
func pendingSurvivesDrops(e *Env) {
	m := e.Open(nil)
	per := tsdPerSector(e)
	a := e.Configure(m, sid(mm2.Gateway, 101), mm2.TSD, ms(100))
	b := e.Configure(m, sid(mm2.Gateway, 102), mm2.TSD, ms(100))
	writeTSD(e, a, 2*per, 1)
	first := readAll(e, a)
	Eq(e, len(first), 2*per, "records in flight")
	over := 3 * sectors(m) * per
	for i := 1; i <= over; i++ {
		writeOne(e, b, uint32(i)) // b drops its own oldest (or spills)
		if i%97 == 0 {
			e.Check(m, "write %d of the other stream", i)
		}
	}
	st := a.Stats()
	Eq(e, st.Drops.Total(), uint64(0), "drops of the stream with records in flight")
	e.WantCounts(a, 0, 2*per, "the stream with records in flight")
	if e.Backend() == Mock {
		Eq(e, st.SectorsRAM, 2, "sectors of the stream with records in flight")
		e.True(m.Stats().Drops.RAMFull > 0, "the pool never filled: nothing was dropped")
	}
	k, err := a.Nack()
	e.NoErr(err, "Nack")
	Eq(e, k, 2*per, "NACKed")
	again := readAll(e, a)
	Eq(e, len(again), len(first), "records delivered again")
	for i := range first {
		Eq(e, again[i], first[i], "record %d delivered again", i)
	}
	e.Fig("overwritten", over)
}

// racingReadersSeeIntact is the second half of 110 under drop-oldest: writers
// fill a full pool (so every new sector frees another) while readers look at
// their streams every way there is (Peek, PeekBulk, Read, ReadBulk, ACK,
// NACK) and Check runs; every record anyone sees is intact (its value and
// time are its sequence number, as written).
func racingReadersSeeIntact(e *Env) {
	m := e.Open(nil)
	fill := e.Configure(m, sid(mm2.Hosted, 100), mm2.TSD, ms(1))
	for i := 0; ; i++ {
		st := m.Stats()
		if st.SectorsFree == 0 || (e.Backend() == Disk && st.SectorsUsed*100 >= 80*st.SectorsTotal) {
			break
		}
		e.True(i < 10*st.SectorsTotal*tsdPerSector(e), "pool at %d of %d sectors after %d writes", st.SectorsUsed, st.SectorsTotal, i)
		writeOne(e, fill, uint32(i))
	}
	const streams = 4
	writes := max(3000, 2*sectors(m))
	var ss []*mm2.Stream
	for i := range uint32(streams) {
		ss = append(ss, e.Configure(m, sid(mm2.CAN, 100+i), mm2.EVT, 0))
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2*streams+1)
	for _, s := range ss {
		wg.Add(2)
		go func() { // writer: value == the sequence number it will get
			defer wg.Done()
			for v := uint32(1); v <= uint32(writes); {
				err := s.WriteEVT(v, int64(v))
				if err == nil {
					v++
				} else if !errors.Is(err, mm2.ErrFull) {
					errc <- fmt.Errorf("write %d to %v: %w", v, s.ID(), err)
					return
				}
			}
		}()
		go func() { // reader: every way of looking at the stream
			defer wg.Done()
			// Leave nothing pending, or the writer could wait forever for room.
			defer func() { _, _ = s.Ack() }()
			buf := make([]mm2.Sample, 16)
			for i := 0; i < writes/4; i++ {
				var got []mm2.Sample
				if smp, err := s.Peek(i % 5); err == nil {
					got = append(got, smp)
				}
				if n, err := s.PeekBulk(buf); err == nil {
					got = append(got, buf[:n]...)
				}
				if smp, err := s.Read(); err == nil {
					got = append(got, smp)
				}
				if n, err := s.ReadBulk(buf); err == nil {
					got = append(got, buf[:n]...)
				}
				for _, smp := range got {
					if uint64(smp.Value) != smp.Seq || smp.UTCms != int64(smp.Seq) {
						errc <- fmt.Errorf("%v: torn record %+v", s.ID(), smp)
						return
					}
				}
				switch i % 3 {
				case 0:
					_, _ = s.Ack()
				case 1:
					_, _ = s.Nack()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			if err := m.Check(); err != nil {
				errc <- fmt.Errorf("Check during the race: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		e.Failf("%v", err)
	}
	e.Check(m, "after the race")
	drops := m.Stats().Drops.RAMFull
	if e.Backend() == Mock {
		e.True(drops > 0, "the pool never dropped: the readers did not race with drop-oldest")
	}
	e.Fig("racing_writes", streams*writes)
	e.Fig("race_drops", drops)
}

// 111: ACK frees sectors at once; no maintenance call is needed, so the pool
// never fills with acknowledged data. A long random run over a pool that is
// full much of the time shows no stream ever holding a sector without
// unacknowledged data, ErrFull under drop-oldest only while every stream
// with sectors has records in flight, and an empty pool once everything is
// acknowledged.
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
	for _, ov := range []mm2.Overflow{mm2.DropOldest, mm2.RejectNew} {
		full, fullSteps := randomFullPool(e, ov)
		e.Fig(fmt.Sprintf("overflow%d_full_steps", ov), fullSteps)
		e.Fig(fmt.Sprintf("overflow%d_errfull", ov), full)
	}
}

// randomFullPool is the random half of 111 with overflow policy ov: bursts
// of writes sized to the pool, reads, ACKs and NACKs on six streams, Check
// after every step (every 50th on the disk backend), and every stream
// drained every 500 steps. It returns how many writes found the pool full
// and after how many steps it was full.
func randomFullPool(e *Env, ov mm2.Overflow) (full, fullSteps int) {
	m := e.Open(func(o *mm2.Options) { o.Overflow = ov })
	rng := rand.New(rand.NewPCG(e.cfg.Seed, 111+uint64(ov)))
	var ss []*mm2.Stream
	for i := range uint32(6) {
		kind := []mm2.Kind{mm2.TSD, mm2.EVT}[i%2]
		ss = append(ss, e.Configure(m, sid(mm2.Source(i%4), 1100+i), kind, periodOf(kind)))
	}
	burst := 40 * sectors(m) / 128 // as many writes per burst on every pool size
	buf := make([]mm2.Sample, 32)
	const steps = 4000
	for step := range steps {
		s := ss[rng.IntN(len(ss))]
		switch r := rng.IntN(10); {
		case r < 6:
			for n := rng.IntN(burst); n > 0; n-- {
				e.Advance(100)
				var err error
				if s.Kind() == mm2.TSD {
					err = s.WriteTSD(uint32(step))
				} else {
					err = s.WriteEVT(uint32(step), e.Now())
				}
				if errors.Is(err, mm2.ErrFull) {
					full++
					if ov == mm2.DropOldest {
						for _, o := range ss {
							st := o.Stats()
							e.True(st.SectorsRAM == 0 || st.Counts.Pending > 0, "step %d: ErrFull while %v holds %d sectors with nothing pending", step, o.ID(), st.SectorsRAM)
						}
					}
					break
				}
				e.NoErr(err, "step %d: write to %v", step, s.ID())
			}
		case r < 8:
			_, _ = s.ReadBulk(buf[:rng.IntN(len(buf))+1])
		case r < 9:
			_, _ = s.Ack()
		default:
			_, _ = s.Nack()
		}
		if m.Stats().SectorsFree == 0 {
			fullSteps++
		}
		for _, o := range ss {
			st := o.Stats()
			e.True(st.Counts.Total > 0 || st.SectorsRAM == 0, "step %d: %v holds %d sectors of acknowledged data", step, o.ID(), st.SectorsRAM)
		}
		if e.Backend() == Mock || step%50 == 0 {
			e.Check(m, "overflow %d, step %d", ov, step)
		}
		if step%500 == 499 { // the uploader catches up: everything goes
			for _, o := range ss {
				readAll(e, o)
				if o.Counts().Pending > 0 {
					_, err := o.Ack()
					e.NoErr(err, "step %d: Ack of %v", step, o.ID())
				}
			}
			Eq(e, m.Stats().SectorsUsed, 0, "step %d: sectors used after everything was acknowledged", step)
		}
	}
	if e.Backend() == Mock {
		e.True(fullSteps >= steps/10, "overflow %d: the pool was full after only %d of %d steps: the run did not stress it", ov, fullSteps, steps)
	}
	return full, fullSteps
}

// 112: heavy sector reuse across many streams (drops, ACKs, NACKs): every
// sector stays in exactly one chain owned by its stream (Check after each of
// the first 5,000 steps, then every 64th), and Check's bounded walk stays
// fast.
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
		if step < 5_000 || step%64 == 0 {
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
// NACKed records are delivered again, in order, with their sequence numbers,
// and a later ACK erases only what was read again; for both kinds.
func bugNackErased(e *Env) {
	m := e.Open(nil)
	const n, again = 10, 3
	for i, kind := range []mm2.Kind{mm2.TSD, mm2.EVT} {
		s := e.Configure(m, sid(mm2.Hosted, uint32(14+i)), kind, periodOf(kind))
		for v := uint32(1); v <= n; v++ {
			writeOne(e, s, v)
		}
		first := readAll(e, s)
		Eq(e, len(first), n, "%v: records read", kind)
		k, err := s.Nack()
		e.NoErr(err, "Nack")
		Eq(e, k, n, "%v: NACKed", kind)
		e.Check(m, "%v: after the NACK", kind)
		k, err = s.Ack()
		e.Is(err, mm2.ErrNoData, "%v: ACK right after a NACK", kind)
		Eq(e, k, 0, "%v: erased by an ACK right after a NACK", kind)
		e.WantCounts(s, n, 0, "%v: after NACK then ACK", kind)
		for i, smp := range readN(e, s, again) {
			Eq(e, smp, first[i], "%v: resent record %d", kind, i)
		}
		k, err = s.Ack()
		e.NoErr(err, "%v: Ack of the resent records", kind)
		Eq(e, k, again, "%v: acknowledged", kind)
		e.WantCounts(s, n-again, 0, "%v: after the ACK of the records read again", kind)
		rest := readAll(e, s)
		Eq(e, len(rest), n-again, "%v: the rest delivered again", kind)
		for i, smp := range rest {
			Eq(e, smp, first[again+i], "%v: resent record %d", kind, again+i)
		}
		k, err = s.Ack()
		e.NoErr(err, "%v: Ack of the rest", kind)
		Eq(e, k, n-again, "%v: acknowledged", kind)
		e.Check(m, "%v: after the last ACK", kind)
	}
	e.Fig("resent", 2*n)
}

// 115: an ACK on one source never touches another source's records, read or
// not; with every source holding records in flight, each ACK or NACK changes
// only its own, and each reads on from where its ACK or NACK left it.
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

	var fl []*mm2.Stream
	for src := range mm2.Source(4) {
		s := e.Configure(m, sid(src, 16), mm2.TSD, ms(10))
		writeTSD(e, s, 12, uint32(src)*100+1)
		wantValues(e, readN(e, s, 5), uint32(src)*100+1, fmt.Sprintf("batch of source %d", src))
		fl = append(fl, s)
	}
	for i, s := range fl {
		if i%2 == 0 {
			k, err = s.Ack()
		} else {
			k, err = s.Nack()
		}
		e.NoErr(err, "ACK or NACK of source %v", s.ID().Source)
		Eq(e, k, 5, "records acknowledged or NACKed on source %v", s.ID().Source)
		e.Check(m, "after the ACK or NACK of source %v", s.ID().Source)
		for _, o := range fl[i+1:] {
			e.WantCounts(o, 7, 5, "%v after source %v's ACK or NACK", o.ID(), s.ID().Source)
		}
	}
	for i, s := range fl {
		smp := readN(e, s, 1)[0]
		want := uint64(1) // NACKed: the batch again
		if i%2 == 0 {
			want = 6 // acknowledged: the records after it
		}
		Eq(e, [2]uint64{smp.Seq, uint64(smp.Value)}, [2]uint64{want, uint64(i)*100 + want}, "next read of %v", s.ID())
	}
	e.Fig("sources", len(ss))
}

// 116: counts cannot underflow or exceed the data: ACK and NACK with nothing
// pending change nothing, sequence numbers run past 65,535, counts stay
// within what the pool holds under heavy dropping; more than 65,535 records
// held at once are counted, read, NACKed and acknowledged exactly; and with
// two streams reading, NACKing and acknowledging on a pool that keeps
// dropping, counts and positions agree after every write.
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
	e.Fig("held_at_once", holdMany(e, n))
	e.Fig("drop_rounds", countsUnderDrops(e))
}

// holdMany is the part of 116 with n records (more than 65,535) held at
// once: on the disk backend the store holds them; on the mock backend a
// pool of 512 KB does, which a profile with a footprint budget (wiced)
// cannot have: there it returns 0 and proves nothing. It returns how many
// records were held.
func holdMany(e *Env, n int) int {
	if e.Backend() == Mock && e.Profile().BudgetBytes > 0 {
		return 0
	}
	m := e.Open(func(o *mm2.Options) {
		if e.Backend() == Mock {
			o.Profile.PoolBytes = 512 << 10 // 16,384 sectors
		}
	})
	s := e.Configure(m, sid(mm2.CAN, 18), mm2.TSD, ms(1))
	for i := 1; i <= n; i++ {
		e.NoErr(s.WriteTSD(uint32(i)), "write %d", i)
		e.Advance(1)
	}
	e.Check(m, "%d writes", n)
	e.WantCounts(s, n, 0, "%d writes", n)
	for round, what := range []string{"read", "read again after the NACK"} {
		got := readAll(e, s)
		Eq(e, len(got), n, "records %s", what)
		last := got[n-1]
		Eq(e, [2]uint64{last.Seq, uint64(last.Value)}, [2]uint64{uint64(n), uint64(n)}, "last record %s", what)
		e.WantCounts(s, 0, n, "all %s", what)
		if round == 0 {
			k, err := s.Nack()
			e.NoErr(err, "Nack")
			Eq(e, k, n, "NACKed")
			e.WantCounts(s, n, 0, "after the NACK")
		}
	}
	k, err := s.Ack()
	e.NoErr(err, "Ack")
	Eq(e, k, n, "acknowledged")
	e.Check(m, "ACK of %d", n)
	for range 3 {
		_, err := s.Ack()
		e.Is(err, mm2.ErrNoData, "second Ack")
		e.WantCounts(s, 0, 0, "after a second Ack")
	}
	st := s.Stats()
	Eq(e, [2]uint64{st.Written, st.Acked}, [2]uint64{uint64(n), uint64(n)}, "positions written and acknowledged")
	return n
}

// countsUnderDrops is the part of 116 with two streams reading, NACKing and
// acknowledging on the run's pool while it keeps dropping (three times its
// size in sectors, at least 3,000 rounds): a write fails only with ErrFull
// and only while both streams have records in flight, and each stream's
// counts agree with its positions after every write. It returns the rounds.
func countsUnderDrops(e *Env) int {
	m := e.Open(nil)
	a := e.Configure(m, sid(mm2.CAN, 19), mm2.TSD, ms(10))
	b := e.Configure(m, sid(mm2.CAN, 20), mm2.EVT, 0)
	rounds := max(3000, 3000*sectors(m)/128)
	buf := make([]mm2.Sample, 20)
	for i := 1; i <= rounds; i++ {
		e.Advance(10)
		for _, err := range []error{a.WriteTSD(uint32(i)), b.WriteEVT(uint32(i), e.Now())} {
			// Drop-oldest never frees a sector behind records in flight.
			if err != nil && (!errors.Is(err, mm2.ErrFull) || a.Counts().Pending == 0 || b.Counts().Pending == 0) {
				e.Failf("round %d: write: %v", i, err)
			}
		}
		if i%50 == 0 {
			_, _ = a.ReadBulk(buf)
			_, _ = b.Read()
		}
		if i%170 == 0 {
			_, _ = a.Nack()
			_, _ = b.Ack()
		}
		for _, s := range []*mm2.Stream{a, b} {
			e.NoErr(positionsAgree(e.Counts(s), s.Stats(), e.Backend() == Disk), "round %d: %v", i, s.ID())
		}
		if i%10 == 0 {
			e.Check(m, "round %d", i)
		}
	}
	if e.Backend() == Mock {
		e.True(m.Stats().Drops.RAMFull > 0, "no drops: the pool never filled")
	}
	return rounds
}
