package mm2_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// readGaps reads every unread record of s (drain with peek, then one ReadBulk
// that marks them pending), checks that numbers strictly increase from
// after and that each value is the one written under its number, and
// returns how many it read and how many numbers were skipped (gaps).
func readGaps(t *testing.T, s *mm2.Stream, valueOf func(seq uint64) uint32, after uint64) (read int, skipped uint64) {
	t.Helper()
	got := drain(t, s, drainHow{peek: true})
	last := after
	for _, smp := range got {
		if smp.Seq <= last {
			t.Fatalf("%v: seq %d after %d: a number went back or was reused", s.ID(), smp.Seq, last)
		}
		if want := valueOf(smp.Seq); smp.Value != want {
			t.Fatalf("%v: seq %d holds %d, written %d", s.ID(), smp.Seq, smp.Value, want)
		}
		skipped += smp.Seq - last - 1
		last = smp.Seq
	}
	if len(got) > 0 {
		if n, err := s.ReadBulk(make([]mm2.Sample, len(got))); n != len(got) || err != nil {
			t.Fatalf("%v: read %d of %d: %v", s.ID(), n, len(got), err)
		}
	}
	return len(got), skipped
}

// The scenario of the issue, on stm32: one CAN batch of 6 records in flight
// while CAN keeps writing into a full pool beside a slower gateway stream.
// CAN's own unsent sectors behind its batch are dropped first; no write is
// refused, no gateway sample is dropped for CAN's writes, an alarm event
// takes the globally oldest unsent sector (CAN's, behind the batch), and
// after a NACK exactly the same 6 records come back, then what is left with
// its original numbers; the gap is what Drops counts.
func TestFullPoolDropsBehindBatchInFlight(t *testing.T) {
	for _, prof := range []mm2.Profile{mm2.ProfileSTM32, mm2.ProfileWICED} {
		t.Run(prof.Name, func(t *testing.T) {
			m, clk := openT(t, mm2.Options{Profile: prof})
			can := configureT(t, m, mm2.CAN, 1, mm2.TSD, 10*time.Millisecond)
			gw := configureT(t, m, mm2.Gateway, 1, mm2.TSD, time.Second)
			alarm := configureT(t, m, mm2.Gateway, 2, mm2.EVT, 0)
			canVal := func(seq uint64) uint32 { return uint32(seq) + 1000 }
			canSeq := uint64(0)
			writeCAN := func() {
				t.Helper()
				canSeq++
				clk.add(10)
				okT(t, can.WriteTSD(canVal(canSeq)), fmt.Sprintf("CAN write %d", canSeq))
			}
			for i := 0; i < 6; i++ {
				writeCAN()
			}
			batch := make([]mm2.Sample, 6)
			if n, err := can.ReadBulk(batch); n != 6 || err != nil {
				t.Fatalf("batch: %d %v", n, err)
			}
			// Fill the pool with CAN, then the gateway writes 30 samples
			// (newer than all of CAN's) while CAN goes on.
			for m.Stats().SectorsFree > 0 {
				writeCAN()
			}
			// (A gateway write that needs a sector drops the gateway's own
			// oldest: the writer's own data goes first, R-12.)
			gwDrops := func() uint64 { return gw.Stats().Drops.RAMFull }
			for i := uint32(1); i <= 30; i++ {
				before := gwDrops()
				for j := 0; j < 100; j++ {
					writeCAN()
				}
				if d := gwDrops() - before; d != 0 {
					t.Fatalf("gateway lost %d samples to CAN's writes: CAN's own unsent data goes first", d)
				}
				okT(t, gw.WriteTSD(i), "gateway write")
			}
			before := gwDrops()
			for i := 0; i < 1238; i++ {
				writeCAN()
			}
			checkT(t, m, "writes behind the batch")
			if d := gwDrops() - before; d != 0 {
				t.Fatalf("gateway lost %d samples to CAN's writes", d)
			}
			cst := can.Stats()
			if cst.Counts.Pending != 6 || cst.Drops.RAMFull == 0 {
				t.Fatalf("CAN %+v: want its batch of 6 still pending and drops behind it", cst)
			}
			if cst.Written != canSeq {
				t.Fatalf("CAN written %d, %d writes made", cst.Written, canSeq)
			}
			// An alarm and the next gateway sample are stored: the alarm's
			// stream has nothing, so the globally oldest unsent sector goes
			// (here the gateway's: CAN's unsent sectors are all newer).
			total := func() uint64 { return m.Stats().Drops.RAMFull }
			dropsBefore := total()
			clk.add(1)
			okT(t, alarm.WriteEVT(7, clk.at()), "alarm")
			clk.add(1000)
			okT(t, gw.WriteTSD(31), "gateway write after the alarm")
			if d := total() - dropsBefore; d == 0 || d > 12 {
				t.Fatalf("alarm and gateway sample dropped %d records: one sector or two", d)
			}
			checkT(t, m, "alarm")
			// The uplink gives up: the same 6 come back, then the rest in
			// order with their numbers, the gap counted as drops.
			if n, err := can.Nack(); n != 6 || err != nil {
				t.Fatalf("nack: %d %v", n, err)
			}
			for i, want := range batch {
				got := readWant(t, can, want.Seq, want.Value)
				if got != want {
					t.Fatalf("redelivered %d: %+v, first delivered %+v", i, got, want)
				}
			}
			st := can.Stats()
			read, skipped := readGaps(t, can, canVal, 6)
			if skipped != st.Drops.RAMFull {
				t.Fatalf("numbers skipped %d, drops counted %d", skipped, st.Drops.RAMFull)
			}
			if uint64(6+read)+st.Drops.RAMFull != canSeq {
				t.Fatalf("%d delivered + %d dropped != %d written", 6+read, st.Drops.RAMFull, canSeq)
			}
			okAck(t, can, 6+read)
			checkT(t, m, "drained")
			if st := can.Stats(); st.Acked != canSeq || st.Written != canSeq {
				t.Fatalf("after the drain %+v: acked and written must be %d", st, canSeq)
			}
		})
	}
}

// Only when every stored record is pending does a write fail, and the
// failed write changes nothing.
func TestFullPoolRefusesOnlyWhenAllIsPending(t *testing.T) {
	m, clk := openT(t, mm2.Options{Profile: mm2.ProfileSTM32})
	s := configureT(t, m, mm2.CAN, 1, mm2.TSD, 10*time.Millisecond)
	for v := uint32(1); m.Stats().SectorsFree > 0 || s.Counts().Total%6 != 0; v++ {
		write(t, s, clk, v)
	}
	total := s.Counts().Total
	buf := make([]mm2.Sample, total)
	if n, err := s.ReadBulk(buf); n != total || err != nil {
		t.Fatalf("read all: %d %v", n, err)
	}
	before := s.Stats()
	clk.add(10)
	if err := s.WriteTSD(1); err != mm2.ErrFull {
		t.Fatalf("write with everything pending: %v, want ErrFull", err)
	}
	if after := s.Stats(); after != before {
		t.Fatalf("a refused write changed %+v into %+v", before, after)
	}
	checkT(t, m, "refused")
	// With all but the first sector's records pending again after a NACK,
	// the write succeeds by dropping behind the new batch.
	if n, err := s.Nack(); n != total || err != nil {
		t.Fatalf("nack: %d %v", n, err)
	}
	if n, err := s.ReadBulk(buf[:total-12]); n != total-12 || err != nil {
		t.Fatalf("read: %d %v", n, err)
	}
	write(t, s, clk, 2)
	if st := s.Stats(); st.Drops.RAMFull != 12 || st.Counts.Pending != total-12 {
		t.Fatalf("after the write %+v: want the 12 unsent records dropped, the batch kept", st)
	}
	checkT(t, m, "write behind the batch")
}

// Drops behind a batch in flight on EVT and TSD streams, with gaps made,
// grown, crossed by reads, NACKed and read again: numbers never repeat and
// what comes back is exactly what was written minus what Drops counts.
func TestGapsSurviveNackAndReadAgain(t *testing.T) {
	for _, kind := range bothKinds {
		t.Run(kind.String(), func(t *testing.T) {
			m, clk := openT(t, mm2.Options{Profile: mm2.ProfileWICED})
			s := configureT(t, m, mm2.CAN, 1, kind, periodOf(kind))
			val := func(seq uint64) uint32 { return uint32(seq * 3) }
			seq := uint64(0)
			buf := make([]mm2.Sample, 7)
			for round := 0; round < 40; round++ {
				for i := 0; i < 97; i++ {
					seq++
					write(t, s, clk, val(seq))
				}
				checkT(t, m, fmt.Sprintf("round %d writes", round))
				if _, err := s.ReadBulk(buf); err != nil {
					t.Fatal(err)
				}
				if round%3 == 2 {
					_, _ = s.Nack()
				}
				checkT(t, m, fmt.Sprintf("round %d read", round))
			}
			_, _ = s.Nack()
			st := s.Stats()
			read, skipped := readGaps(t, s, val, st.Acked)
			if got := st.Acked + uint64(read) + skipped; got != seq {
				t.Fatalf("acked %d + read %d + skipped %d = %d, %d written", st.Acked, read, skipped, got, seq)
			}
			if st.Drops.RAMFull < skipped || st.Drops.RAMFull-skipped != st.Acked {
				// every record dropped was either at the front (folded into
				// acked) or inside the chain (a gap read over)
				t.Fatalf("drops %d, skipped %d, acked %d (nothing was acknowledged)", st.Drops.RAMFull, skipped, st.Acked)
			}
			checkT(t, m, "drained")
		})
	}
}

// R-23 with R-12 on the disk backend: while the disk fails, streams whose
// records are in RAM keep taking writes under the RAM policy, one of them
// with a batch in flight the whole time: its unsent records behind the
// batch are dropped (counted), nothing is refused, and after a process
// crash (no Close) and then a clean reopen the same records come back with
// the same numbers, the gaps where they were.
func TestDiskFailingDropsBehindBatchInFlight(t *testing.T) {
	for _, fault := range []struct {
		name string
		diskFault
	}{{"full", diskFullNow}, {"eio", diskEIO}} {
		t.Run(fault.name, func(t *testing.T) {
			f := newFullStore(t)
			// A stream that spills first runs into the fault and shows it.
			spill := f.add(mm2.StreamID{Source: mm2.CAN, Sensor: 9}, mm2.TSD)
			for i := 0; i < 600; i++ {
				f.round(func(error) bool { return false }, spill)
			}
			fault.inject(f.fault)
			for f.m.Stats().DiskError == "" {
				f.round(fault.ok, spill)
			}
			held := f.add(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD)
			other := f.add(mm2.StreamID{Source: mm2.CAN, Sensor: 2}, mm2.EVT)
			never := func(error) bool { return false }
			for i := 0; i < 12; i++ {
				f.round(never, held)
			}
			batch := make([]mm2.Sample, 6)
			if n, err := held.h.ReadBulk(batch); n != 6 || err != nil {
				t.Fatalf("batch: %d %v", n, err)
			}
			// Several retry intervals pass: the disk is probed and still
			// fails, and the RAM streams go on.
			for i := 0; i < 800; i++ {
				f.round(never, held, other)
				if i%50 == 0 {
					f.check(fmt.Sprintf("round %d", i))
				}
			}
			st := held.h.Stats()
			if st.Counts.Pending != 6 || st.Drops.RAMFull == 0 || st.SectorsDisk != 0 {
				t.Fatalf("held stream %+v: want its batch pending, drops behind it, nothing on disk", st)
			}
			if f.m.Stats().DiskError == "" {
				t.Fatal("the disk error no longer shows")
			}
			want := map[mm2.StreamID][]mm2.Sample{}
			for _, s := range []*fullStream{held, other} {
				if _, err := s.h.Nack(); err != nil && s == held {
					t.Fatal(err)
				}
				want[s.id] = drain(t, s.h, drainHow{peek: true})
				if s == held && len(want[s.id]) < 6 {
					t.Fatalf("held stream: %d records left", len(want[s.id]))
				}
				for i := range 6 {
					if s == held && want[s.id][i] != batch[i] {
						t.Fatalf("after the NACK record %d is %+v, the batch had %+v", i, want[s.id][i], batch[i])
					}
				}
			}
			// kill -9 while the disk still fails, then the disk recovers.
			mm2.WaitCheckpoint(f.m)
			fault.clear(f.fault)
			m := f.reopen()
			f.check("reopen after the crash")
			sameSeqValue := func(a, b mm2.Sample) bool { return a.Seq == b.Seq && a.Value == b.Value }
			for _, s := range []*fullStream{held, other} {
				h := reattach(t, m, s, want[s.id], sameSeqValue)
				if w := h.Stats().Written; w != s.next-1 {
					t.Fatalf("%v: numbering resumes after %d, %d were handed out", s.id, w, s.next-1)
				}
			}
			f.reopenAndVerify()
		})
	}
}

// R-23 for streams caught spilling when the disk starts failing: their
// frames being filled cannot be written, so each such frame (all of its
// stream's disk part) moves into the stream's RAM chain and the stream
// goes on under the RAM policy: no write is refused, every record is
// delivered or counted dropped, through a process crash and a reopen.
func TestDiskFailingMovesFramesBeingFilledToRAM(t *testing.T) {
	for _, fault := range []struct {
		name string
		diskFault
	}{{"eio", diskEIO}, {"full", diskFullNow}} {
		t.Run(fault.name, func(t *testing.T) {
			f := newFullStore(t)
			var ss []*fullStream
			for i := range 5 {
				kind := mm2.TSD
				if i%2 == 1 {
					kind = mm2.EVT
				}
				ss = append(ss, f.add(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, kind))
			}
			never := func(error) bool { return false }
			for f.m.Stats().DiskRecords == 0 { // until the streams spill
				f.round(never, ss...)
			}
			fault.inject(f.fault) // nothing of the frames being filled was written yet
			for i := 0; i < 2000; i++ {
				f.round(never, ss...) // every write is stored
				if i%100 == 0 {
					f.check(fmt.Sprintf("round %d", i))
				}
			}
			st := f.m.Stats()
			if st.DiskError == "" || st.Drops.RAMFull == 0 || st.DiskRecords != 0 {
				t.Fatalf("stats %+v: want the disk error shown, RAM drops, nothing left in the disk parts", st)
			}
			want := map[mm2.StreamID][]mm2.Sample{}
			for _, s := range ss {
				want[s.id] = drain(t, s.h, drainHow{peek: true})
			}
			mm2.WaitCheckpoint(f.m) // kill -9 while the disk still fails
			m := f.reopen()
			f.check("reopen after the crash")
			for _, s := range ss {
				reattach(t, m, s, want[s.id], func(a, b mm2.Sample) bool { return a == b })
			}
			fault.clear(f.fault)
			f.reopenAndVerify()
		})
	}
}

// R-12 says a full pool frees the oldest sector that holds no pending record,
// and refuses a write only when nothing but pending data remains. One record
// pending at the head of a stream leaves every sector behind it unsent and
// droppable: the write must succeed by dropping the oldest of them (a gap in
// the sequence numbers the reader will see), and the pending record must
// survive.
func TestDropOldestFreesUnsentSectorsBehindPending(t *testing.T) {
	m, clk := openT(t, mm2.Options{Profile: mm2.ProfileSTM32})
	s := configureT(t, m, mm2.CAN, 1, mm2.TSD, 100*time.Millisecond)
	for i := uint32(1); i <= 6; i++ {
		write(t, s, clk, i)
	}
	readWant(t, s, 1, 1) // the uploader has one record in flight
	total := uint32(m.Stats().SectorsTotal)
	for i := uint32(7); i <= 6*2*total; i++ {
		write(t, s, clk, i)
		if i%61 == 0 {
			checkT(t, m, fmt.Sprintf("write %d", i))
		}
	}
	checkT(t, m, "writes")
	if st := s.Stats(); st.Drops.RAMFull == 0 || st.Counts.Pending != 1 {
		t.Fatalf("stats %+v: want drops and the one record still pending", st)
	}
	if n, err := s.Nack(); err != nil || n != 1 {
		t.Fatalf("nack: %d %v", n, err)
	}
	readWant(t, s, 1, 1)
}

// reattach configures stream s again on m, a manager reopened after a
// crash, points s at the new handle, and checks that it holds exactly the
// records in want (same, as the caller compares them), unread.
func reattach(t *testing.T, m *mm2.Manager, s *fullStream, want []mm2.Sample, same func(a, b mm2.Sample) bool) *mm2.Stream {
	t.Helper()
	h, err := m.Configure(s.id, s.kind, time.Duration(s.h.Stats().Period)*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s.h = h
	got := drain(t, h, drainHow{peek: true})
	if len(got) != len(want) {
		t.Fatalf("%v: %d records back after the crash, %d before", s.id, len(got), len(want))
	}
	for i := range got {
		if !same(got[i], want[i]) {
			t.Fatalf("%v: record %d back as %+v, was %+v", s.id, i, got[i], want[i])
		}
	}
	return h
}
