package mm2_test

// One test per production failure of the original system that concerns the
// RAM tier (SPEC §12, items 1, 2, 4–12, 14–16). Each test is named for what
// it proves, says in a comment how the original failed, and is written so
// that the original behaviour would make it fail. Check() runs after the
// steps that change state.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// testClock is an injected clock for single-goroutine tests.
type testClock struct{ ms int64 }

func (c *testClock) now() time.Time { return time.UnixMilli(c.ms) }

// openT opens a manager with a test clock starting at a fixed time; MCU
// profiles get UTC at once. At the end of the test, a manager still open
// must pass Check, whatever the test did to it, and is closed.
func openT(t testing.TB, o mm2.Options) (*mm2.Manager, *testClock) {
	t.Helper()
	clk := &testClock{ms: 1_700_000_000_000}
	if o.Clock == nil {
		o.Clock = clk.now
	}
	m, err := mm2.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	m.SetUTCAvailable(true)
	t.Cleanup(func() {
		if !mm2.Closed(m) {
			if err := m.Check(); err != nil {
				t.Errorf("Check at the end of the test: %v", err)
			}
		}
		_ = m.Close()
	})
	return m, clk
}

func configureT(t testing.TB, m *mm2.Manager, src mm2.Source, sensor uint32, kind mm2.Kind, period time.Duration) *mm2.Stream {
	t.Helper()
	s, err := m.Configure(mm2.StreamID{Source: src, Sensor: sensor}, kind, period)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkT fails the test with every invariant violation Check finds.
func checkT(t testing.TB, m *mm2.Manager, step string) {
	t.Helper()
	if err := m.Check(); err != nil {
		t.Fatalf("Check after %s:\n%v", step, err)
	}
}

func okT(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCounts(t testing.TB, s *mm2.Stream, want mm2.Counts, step string) {
	t.Helper()
	if got := s.Counts(); got != want {
		t.Fatalf("%v after %s: counts %+v, want %+v", s.ID(), step, got, want)
	}
}

// readWant reads one record and fails unless it has the given Seq and value.
func readWant(t testing.TB, s *mm2.Stream, seq uint64, value uint32) mm2.Sample {
	t.Helper()
	smp, err := s.Read()
	if err != nil {
		t.Fatalf("%v: read of seq %d: %v", s.ID(), seq, err)
	}
	if smp.Seq != seq || smp.Value != value {
		t.Fatalf("%v: read %+v, want seq %d value %d", s.ID(), smp, seq, value)
	}
	return smp
}

// write stores one record of the stream's kind: TSD from the clock (which it
// advances by one period), EVT at the clock's time.
func write(t testing.TB, s *mm2.Stream, clk *testClock, v uint32) {
	t.Helper()
	var err error
	if s.Kind() == mm2.TSD {
		clk.ms += s.Stats().Period
		err = s.WriteTSD(v)
	} else {
		clk.ms++
		err = s.WriteEVT(v, clk.ms)
	}
	if err != nil {
		t.Fatalf("%v: write %d: %v", s.ID(), v, err)
	}
}

var bothKinds = []mm2.Kind{mm2.TSD, mm2.EVT}

func periodOf(k mm2.Kind) time.Duration {
	if k == mm2.TSD {
		return 100 * time.Millisecond
	}
	return 0
}

// §12.1. The original set the read cursor to "none" when a read reached the
// end of a chain; when a writer appended a new sector afterwards the cursor
// still pointed nowhere, so every later read found nothing while the counts
// kept growing. Here every record written after the reader caught up, at
// every position (mid-sector, the exact end of a full sector, after an ACK
// emptied the chain), is the next one read.
func TestReadCursorNeverLostAtChainEnd(t *testing.T) {
	for _, kind := range bothKinds {
		for _, mode := range []string{"read", "readBulk", "readAck"} {
			t.Run(fmt.Sprintf("%v/%s", kind, mode), func(t *testing.T) {
				m, clk := openT(t, mm2.Options{Profile: mm2.ProfileSTM32})
				s := configureT(t, m, mm2.CAN, 1, kind, periodOf(kind))
				buf := make([]mm2.Sample, 4)
				for i := uint32(1); i <= 40; i++ {
					write(t, s, clk, i)
					switch mode {
					case "read", "readAck":
						readWant(t, s, uint64(i), i)
					case "readBulk":
						n, err := s.ReadBulk(buf)
						if err != nil || n != 1 || buf[0].Seq != uint64(i) || buf[0].Value != i {
							t.Fatalf("bulk read after write %d: n=%d err=%v got %+v", i, n, err, buf[0])
						}
					}
					if mode == "readAck" && i%5 == 0 {
						if n, err := s.Ack(); err != nil || n != 5 {
							t.Fatalf("ack: %d %v", n, err)
						}
					}
					// Caught up: the cursor is at the end of the chain.
					if _, err := s.Read(); !errors.Is(err, mm2.ErrNoData) {
						t.Fatalf("read past the end: %v, want ErrNoData", err)
					}
					checkT(t, m, fmt.Sprintf("write+read %d", i))
				}
				if st := s.Stats(); st.Written != 40 || st.Read != 40 {
					t.Fatalf("written %d read %d, want 40 and 40", st.Written, st.Read)
				}
			})
		}
	}
}

// §12.2. The original used a timestamp of 0 as the "erased" marker, so a
// record stamped 0 (a device without UTC yet, a test vector) was rejected or
// skipped on read. Here 0, and negative times, are ordinary data for both
// kinds.
func TestTimestampZeroIsValidData(t *testing.T) {
	m, clk := openT(t, mm2.Options{})
	evt := configureT(t, m, mm2.Gateway, 1, mm2.EVT, 0)
	for i, ts := range []int64{0, 0, -1, 0} {
		okT(t, evt.WriteEVT(uint32(i+1), ts), "WriteEVT")
	}
	checkT(t, m, "EVT writes at 0")
	wantCounts(t, evt, mm2.Counts{New: 4, Total: 4}, "EVT writes at 0")
	if st := evt.Stats(); !st.HasUnacked || st.OldestUnackedMs != 0 {
		t.Fatalf("oldest unacked %d (has %v), want 0", st.OldestUnackedMs, st.HasUnacked)
	}
	for i, ts := range []int64{0, 0, -1, 0} {
		if smp := readWant(t, evt, uint64(i+1), uint32(i+1)); smp.UTCms != ts {
			t.Fatalf("event %d at %d, want %d", i, smp.UTCms, ts)
		}
	}

	clk.ms = 0 // the clock reads the epoch: the first TSD slot is t=0
	tsd := configureT(t, m, mm2.Gateway, 2, mm2.TSD, 10*time.Millisecond)
	for i := uint32(1); i <= 8; i++ {
		okT(t, tsd.WriteTSD(i), "WriteTSD")
		clk.ms += 10
	}
	checkT(t, m, "TSD writes from 0")
	for i := uint32(1); i <= 8; i++ {
		if smp := readWant(t, tsd, uint64(i), i); smp.UTCms != int64(i-1)*10 {
			t.Fatalf("sample %d at %d, want %d", i, smp.UTCms, (i-1)*10)
		}
	}
	okAck(t, tsd, 8)
	okAck(t, evt, 4)
	checkT(t, m, "acks")
}

func okAck(t testing.TB, s *mm2.Stream, want int) {
	t.Helper()
	if n, err := s.Ack(); err != nil || n != want {
		t.Fatalf("%v: ack = %d, %v; want %d", s.ID(), n, err, want)
	}
}

// §12.4. The original computed a stream's sector count as end − start + 1
// over sector ids, so 30 records whose sectors were spread over the pool by
// other streams' writes counted as 754 sectors. Here stream A's 30 samples
// take 5 sectors whose ids span more than 750, and every figure reports 5.
func TestSectorCountIsRecordsNotIdRange(t *testing.T) {
	m, clk := openT(t, mm2.Options{})
	a := configureT(t, m, mm2.Gateway, 1, mm2.TSD, 100*time.Millisecond)
	b := configureT(t, m, mm2.Gateway, 2, mm2.TSD, 100*time.Millisecond)
	for i := uint32(1); i <= 6; i++ {
		write(t, a, clk, i) // one full sector at the low end of the pool
	}
	for i := uint32(1); i <= 6*748; i++ {
		write(t, b, clk, i) // the next 748 sectors
	}
	for i := uint32(7); i <= 30; i++ {
		write(t, a, clk, i) // four more sectors after them
	}
	checkT(t, m, "writes")
	if got := a.Stats().SectorsRAM; got != 5 {
		t.Fatalf("30 samples in %d sectors, want 5", got)
	}
	if st := m.Stats(); st.SectorsUsed != 753 || a.Stats().SectorsRAM+b.Stats().SectorsRAM != st.SectorsUsed {
		t.Fatalf("pool uses %d sectors, streams %d + %d; want 753", st.SectorsUsed, a.Stats().SectorsRAM, b.Stats().SectorsRAM)
	}
	drainAck(t, b)
	checkT(t, m, "ack of b")
	if st := m.Stats(); st.SectorsUsed != 5 || a.Stats().SectorsRAM != 5 {
		t.Fatalf("after b's ack: pool %d sectors, a %d; want 5 and 5", st.SectorsUsed, a.Stats().SectorsRAM)
	}
	drainAck(t, a)
	checkT(t, m, "ack of a")
	if st := m.Stats(); st.SectorsUsed != 0 || a.Stats().SectorsRAM != 0 {
		t.Fatalf("after all acks: pool %d sectors, a %d; want 0", st.SectorsUsed, a.Stats().SectorsRAM)
	}
}

// drainAck reads everything unread in s and acknowledges it.
func drainAck(t testing.TB, s *mm2.Stream) []mm2.Sample {
	t.Helper()
	var all []mm2.Sample
	buf := make([]mm2.Sample, 64)
	for {
		n, err := s.ReadBulk(buf)
		if errors.Is(err, mm2.ErrNoData) {
			break
		}
		okT(t, err, "ReadBulk")
		all = append(all, buf[:n]...)
	}
	if len(all) > 0 || s.Counts().Pending > 0 {
		_, err := s.Ack()
		okT(t, err, "Ack")
	}
	return all
}

// §12.5. The original kept one global "current upload source": when the
// uploader moved on to another source between a read and its ACK, the ACK
// looked for pending data under the new source and erased nothing. Here the
// ACK belongs to the stream handle that read, whatever was read in between:
// it erases exactly that stream's pending records and nothing of the other.
func TestAckAfterSourceChangeErasesTheReadStream(t *testing.T) {
	m, clk := openT(t, mm2.Options{})
	gw := configureT(t, m, mm2.Gateway, 7, mm2.EVT, 0)
	can := configureT(t, m, mm2.CAN, 7, mm2.EVT, 0) // same sensor number, other source
	for i := uint32(1); i <= 10; i++ {
		write(t, gw, clk, i)
		write(t, can, clk, 100+i)
	}
	for i := uint32(1); i <= 4; i++ {
		readWant(t, gw, uint64(i), i)
	}
	// The uploader switches to CAN before the gateway's batch is confirmed.
	for i := uint32(1); i <= 3; i++ {
		readWant(t, can, uint64(i), 100+i)
	}
	checkT(t, m, "reads")
	okAck(t, gw, 4)
	checkT(t, m, "gateway ack")
	wantCounts(t, gw, mm2.Counts{New: 6, Total: 6}, "gateway ack")
	wantCounts(t, can, mm2.Counts{New: 7, Pending: 3, Total: 10}, "gateway ack")
	readWant(t, gw, 5, 5) // records 1..4 are gone
	okAck(t, can, 3)
	checkT(t, m, "can ack")
	readWant(t, can, 4, 104)
}

// §12.6. The original started every read at the first unacknowledged record;
// with pending records in front, a read returned them again or nothing, so
// data written behind pending data was unreachable until an ACK. Here reads
// always continue behind the pending records, across sector boundaries.
func TestReadReachesNewDataBehindPending(t *testing.T) {
	for _, kind := range bothKinds {
		t.Run(kind.String(), func(t *testing.T) {
			m, clk := openT(t, mm2.Options{})
			s := configureT(t, m, mm2.BLE, 3, kind, periodOf(kind))
			buf := make([]mm2.Sample, 64)
			for i := uint32(1); i <= 8; i++ {
				write(t, s, clk, i)
			}
			if n, err := s.ReadBulk(buf); err != nil || n != 8 {
				t.Fatalf("bulk read: %d %v", n, err)
			}
			for i := uint32(9); i <= 16; i++ {
				write(t, s, clk, i)
			}
			checkT(t, m, "writes behind pending")
			wantCounts(t, s, mm2.Counts{New: 8, Pending: 8, Total: 16}, "writes behind pending")
			readWant(t, s, 9, 9)
			n, err := s.ReadBulk(buf)
			if err != nil || n != 7 || buf[0].Seq != 10 || buf[6].Seq != 16 || buf[6].Value != 16 {
				t.Fatalf("bulk read behind pending: n=%d err=%v first %+v last %+v", n, err, buf[0], buf[6])
			}
			checkT(t, m, "reads behind pending")
			okAck(t, s, 16)
			checkT(t, m, "ack")
		})
	}
}

// §12.7. The original derived a stream's new-sample count from sector ids
// that a stream with no data had never set, and returned garbage. Here a
// stream with no data, fresh or emptied, counts zero everywhere and every
// read says ErrNoData, while other streams hold data in the same pool.
func TestNewCountOfEmptyStreamIsZero(t *testing.T) {
	m, clk := openT(t, mm2.Options{Profile: mm2.ProfileWICED})
	busy := configureT(t, m, mm2.Gateway, 1, mm2.TSD, 100*time.Millisecond)
	for i := uint32(1); i <= 50; i++ {
		write(t, busy, clk, i)
	}
	empty := func(s *mm2.Stream, step string) {
		t.Helper()
		wantCounts(t, s, mm2.Counts{}, step)
		if _, err := s.Read(); !errors.Is(err, mm2.ErrNoData) {
			t.Fatalf("%s: Read = %v, want ErrNoData", step, err)
		}
		if _, err := s.Peek(0); !errors.Is(err, mm2.ErrNoData) {
			t.Fatalf("%s: Peek = %v, want ErrNoData", step, err)
		}
		if n, err := s.ReadBulk(make([]mm2.Sample, 8)); n != 0 || !errors.Is(err, mm2.ErrNoData) {
			t.Fatalf("%s: ReadBulk = %d, %v; want ErrNoData", step, n, err)
		}
		if st := s.Stats(); st.HasUnacked || st.SectorsRAM != 0 || st.Counts != (mm2.Counts{}) {
			t.Fatalf("%s: stats %+v", step, st)
		}
		checkT(t, m, step)
	}
	for _, kind := range bothKinds {
		s := configureT(t, m, mm2.CAN, uint32(kind), kind, periodOf(kind))
		empty(s, "configure "+kind.String())
		for i := uint32(1); i <= 9; i++ {
			write(t, s, clk, i)
		}
		drainAck(t, s)
		empty(s, "drain "+kind.String())
	}
	drainAck(t, busy)
	empty(busy, "drain busy")
}

// §12.8. The original filed some sources' writes under the gateway source;
// the ACK for the real source never found them and they were never freed.
// Here the same sensor number on all eight sources gives eight separate
// streams, each reads back exactly its own records, and acknowledging them
// all returns every sector to the pool.
func TestWritesStayWithTheirSource(t *testing.T) {
	m, clk := openT(t, mm2.Options{})
	var streams []*mm2.Stream
	for src := mm2.Source(0); src < mm2.MaxSources; src++ {
		streams = append(streams,
			configureT(t, m, src, 42, mm2.TSD, 100*time.Millisecond),
			configureT(t, m, src, 43, mm2.EVT, 0))
	}
	const per = 25
	for i := uint32(0); i < per; i++ {
		for _, s := range streams {
			write(t, s, clk, uint32(s.ID().Source)<<16|s.ID().Sensor<<8|i)
		}
	}
	checkT(t, m, "writes")
	for _, s := range streams {
		wantCounts(t, s, mm2.Counts{New: per, Total: per}, "writes")
		got := drainAck(t, s)
		if len(got) != per {
			t.Fatalf("%v: read %d records, want %d", s.ID(), len(got), per)
		}
		for i, smp := range got {
			if want := uint32(s.ID().Source)<<16 | s.ID().Sensor<<8 | uint32(i); smp.Value != want {
				t.Fatalf("%v: record %d is %#x, want %#x (another source's data)", s.ID(), i, smp.Value, want)
			}
		}
		checkT(t, m, "drain "+s.ID().String())
	}
	if st := m.Stats(); st.SectorsUsed != 0 || st.SectorsFree != st.SectorsTotal {
		t.Fatalf("after acknowledging everything %d sectors are still used", st.SectorsUsed)
	}
}

// §12.9. The original let a TSD write land in an EVT sector (and the other
// way round); the sector no longer decoded and its data was lost. Here every
// write of the other kind, by any path, is refused with ErrKindMismatch and
// stores nothing, and everything stored before decodes unchanged.
func TestKindNeverMixesInASector(t *testing.T) {
	m, clk := openT(t, mm2.Options{})
	tsd := configureT(t, m, mm2.Hosted, 1, mm2.TSD, 100*time.Millisecond)
	evt := configureT(t, m, mm2.Hosted, 2, mm2.EVT, 0)
	for i := uint32(1); i <= 3; i++ {
		write(t, tsd, clk, i)
		write(t, evt, clk, i)
	}
	refused := map[string]error{
		"WriteEVT on TSD":          tsd.WriteEVT(99, clk.ms),
		"WriteEventWithGPS on TSD": tsd.WriteEventWithGPS(99, mm2.GPSFix{}),
		"WriteTSD on EVT":          evt.WriteTSD(99),
		"SetGPS naming a TSD":      m.SetGPS(mm2.Hosted, mm2.GPSConfig{Latitude: 1, Longitude: 10, Altitude: 11, Speed: 12}),
	}
	_, refused["Configure TSD as EVT"] = m.Configure(tsd.ID(), mm2.EVT, 0)
	_, refused["Configure EVT as TSD"] = m.Configure(evt.ID(), mm2.TSD, time.Second)
	for what, err := range refused {
		if !errors.Is(err, mm2.ErrKindMismatch) {
			t.Errorf("%s: %v, want ErrKindMismatch", what, err)
		}
	}
	checkT(t, m, "refused writes")
	for _, s := range []*mm2.Stream{tsd, evt} {
		wantCounts(t, s, mm2.Counts{New: 3, Total: 3}, "refused writes")
		for i := uint32(1); i <= 3; i++ {
			readWant(t, s, uint64(i), i)
		}
	}
	if len(m.Streams()) != 2 {
		t.Fatalf("streams %v: a refused call configured something", m.Streams())
	}
}

// §12.10. The original counted a stream's records, released the lock, and
// then read them, while a writer's cleanup freed and reused the sectors in
// between: the reader decoded another stream's bytes. Here (a) a sector
// holding pending records is never freed by drop-oldest, so a NACK returns
// exactly what was read; and (b) with readers and writers racing on a pool
// that is full and dropping, every record anyone sees is intact: its value
// is its sequence number, as written.
func TestSectorNeverFreedWhileReachable(t *testing.T) {
	t.Run("pending survives drop-oldest", func(t *testing.T) {
		m, clk := openT(t, mm2.Options{Profile: mm2.ProfileSTM32})
		a := configureT(t, m, mm2.Gateway, 1, mm2.TSD, 100*time.Millisecond)
		b := configureT(t, m, mm2.Gateway, 2, mm2.TSD, 100*time.Millisecond)
		for i := uint32(1); i <= 12; i++ {
			write(t, a, clk, i)
		}
		buf := make([]mm2.Sample, 12)
		if n, err := a.ReadBulk(buf); err != nil || n != 12 {
			t.Fatalf("read: %d %v", n, err)
		}
		total := m.Stats().SectorsTotal
		for i := uint32(1); i <= uint32(6*total*3); i++ {
			write(t, b, clk, i) // fills the pool three times over: b drops its own oldest
			if i%97 == 0 {
				checkT(t, m, "pressure")
			}
		}
		checkT(t, m, "pressure")
		if st := a.Stats(); st.Drops.Total() != 0 || st.SectorsRAM != 2 {
			t.Fatalf("pending stream lost data: %+v", st)
		}
		if n, err := a.Nack(); err != nil || n != 12 {
			t.Fatalf("nack: %d %v", n, err)
		}
		for i := uint32(1); i <= 12; i++ {
			if smp := readWant(t, a, uint64(i), i); smp != buf[i-1] {
				t.Fatalf("redelivered %+v, first delivered %+v", smp, buf[i-1])
			}
		}
		checkT(t, m, "redelivery")
	})
	t.Run("racing readers see intact records", func(t *testing.T) {
		m, err := mm2.Open(mm2.Options{Profile: mm2.ProfileSTM32})
		okT(t, err, "Open")
		defer m.Close()
		m.SetUTCAvailable(true)
		const streams, writes = 4, 3000
		var ss []*mm2.Stream
		for i := uint32(0); i < streams; i++ {
			ss = append(ss, configureT(t, m, mm2.CAN, i, mm2.EVT, 0))
		}
		var wg sync.WaitGroup
		errc := make(chan error, 2*streams+1)
		for _, s := range ss {
			wg.Add(2)
			go func() { // writer: value == the sequence number it will get
				defer wg.Done()
				for v := uint32(1); v <= writes; {
					err := s.WriteEVT(v, int64(v))
					if err == nil {
						v++
					} else if !errors.Is(err, mm2.ErrFull) {
						errc <- err
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
			for i := 0; i < 50; i++ {
				if err := m.Check(); err != nil {
					errc <- err
					return
				}
			}
		}()
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		checkT(t, m, "race")
		if m.Stats().Drops.RAMFull == 0 {
			t.Fatal("the pool never filled: the test did not race with drop-oldest")
		}
	})
}

// §12.11. The original freed acknowledged sectors only in a periodic
// maintenance task; when it did not run, the pool filled to 100 % with data
// already acknowledged and every write failed. Here there is no maintenance
// to forget: an ACK frees its sectors at once and drop-oldest frees unsent
// ones. A long randomized run over a pool that is full most of the time shows
// that no stream ever holds a sector without unacknowledged data, that
// ErrFull only comes when every stored sector is pending (or RejectNew is
// set), and that after everything is acknowledged the pool is empty.
func TestFullPoolNeverStuck(t *testing.T) {
	for _, ov := range []mm2.Overflow{mm2.DropOldest, mm2.RejectNew} {
		t.Run(fmt.Sprintf("overflow=%d", ov), func(t *testing.T) {
			m, clk := openT(t, mm2.Options{Profile: mm2.ProfileSTM32, Overflow: ov})
			rng := rand.New(rand.NewPCG(11, uint64(ov)))
			var ss []*mm2.Stream
			for i := uint32(0); i < 6; i++ {
				kind := bothKinds[i%2]
				ss = append(ss, configureT(t, m, mm2.Source(i%4), i, kind, periodOf(kind)))
			}
			buf := make([]mm2.Sample, 32)
			full, fullSteps := 0, 0
			for step := 0; step < 4000; step++ {
				s := ss[rng.IntN(len(ss))]
				switch r := rng.IntN(10); {
				case r < 6:
					for n := rng.IntN(40); n > 0; n-- {
						clk.ms += 100
						var err error
						if s.Kind() == mm2.TSD {
							err = s.WriteTSD(uint32(step))
						} else {
							err = s.WriteEVT(uint32(step), clk.ms)
						}
						if errors.Is(err, mm2.ErrFull) {
							full++
							if ov == mm2.DropOldest {
								for _, o := range ss {
									if st := o.Stats(); st.SectorsRAM > 0 && st.Counts.Pending == 0 {
										t.Fatalf("step %d: ErrFull while %v holds %d sectors with nothing pending",
											step, o.ID(), st.SectorsRAM)
									}
								}
							}
							break
						}
						okT(t, err, "write")
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
					if st := o.Stats(); st.Counts.Total == 0 && st.SectorsRAM != 0 {
						t.Fatalf("step %d: %v holds %d sectors of acknowledged data", step, o.ID(), st.SectorsRAM)
					}
				}
				checkT(t, m, fmt.Sprintf("step %d", step))
				if step%500 == 499 { // the uploader catches up: everything goes
					for _, o := range ss {
						drainAck(t, o)
					}
					if st := m.Stats(); st.SectorsUsed != 0 {
						t.Fatalf("step %d: everything acknowledged, %d sectors still used", step, st.SectorsUsed)
					}
				}
			}
			t.Logf("pool full after %d of 4000 steps, %d ErrFull, %d records dropped", fullSteps, full, m.Stats().Drops.RAMFull)
			if fullSteps < 400 {
				t.Fatalf("the pool was full after only %d steps: the run did not stress it", fullSteps)
			}
		})
	}
}

// §12.12. The original reused a freed sector while an old chain still linked
// to it: 4,336 chain owner mismatches, and a chain walk without a bound hung
// for hours. Here sectors are freed and reused across streams all the time,
// and Check (which verifies each sector is in exactly one chain or the free
// list) stays clean after every step. TestChainWalkIsBounded (internal)
// corrupts the chain table and shows that every walk ends and reports.
func TestFreedSectorsReusedWithoutOwnerMismatch(t *testing.T) {
	m, clk := openT(t, mm2.Options{Profile: mm2.ProfileWICED})
	rng := rand.New(rand.NewPCG(12, 12))
	var ss []*mm2.Stream
	for i := uint32(0); i < 20; i++ {
		kind := bothKinds[i%2]
		ss = append(ss, configureT(t, m, mm2.Source(i%mm2.MaxSources), i, kind, periodOf(kind)))
	}
	buf := make([]mm2.Sample, 16)
	allocs := m.Stats().Allocations
	for step := 0; step < 5000; step++ {
		s := ss[rng.IntN(len(ss))]
		switch rng.IntN(4) {
		case 0, 1:
			for n := rng.IntN(12) + 1; n > 0; n-- {
				write(t, s, clk, uint32(step))
			}
		case 2:
			_, _ = s.ReadBulk(buf)
		case 3:
			_, _ = s.Ack()
		}
		checkT(t, m, fmt.Sprintf("step %d", step))
	}
	st := m.Stats()
	if reuse := st.Allocations - allocs; reuse < 5*uint64(st.SectorsTotal) {
		t.Fatalf("only %d allocations over a %d-sector pool: sectors were not reused enough", reuse, st.SectorsTotal)
	}
}

// §12.14. The original kept NACKed records pending and erased them silently
// at the next ACK, so they were never resent. Here a NACK makes them unread:
// an ACK right after it erases nothing, and the next reads return the same
// records, in order, with the same sequence numbers; a later ACK erases only
// what was read again.
func TestNackedRecordsAreResentNotErasedByNextAck(t *testing.T) {
	for _, kind := range bothKinds {
		t.Run(kind.String(), func(t *testing.T) {
			m, clk := openT(t, mm2.Options{})
			s := configureT(t, m, mm2.Gateway, 9, kind, periodOf(kind))
			for i := uint32(1); i <= 10; i++ {
				write(t, s, clk, i)
			}
			first := make([]mm2.Sample, 10)
			if n, err := s.ReadBulk(first); err != nil || n != 10 {
				t.Fatalf("read: %d %v", n, err)
			}
			if n, err := s.Nack(); err != nil || n != 10 {
				t.Fatalf("nack: %d %v", n, err)
			}
			checkT(t, m, "nack")
			if n, err := s.Ack(); !errors.Is(err, mm2.ErrNoData) || n != 0 {
				t.Fatalf("ack after nack: %d %v, want ErrNoData", n, err)
			}
			checkT(t, m, "ack after nack")
			wantCounts(t, s, mm2.Counts{New: 10, Total: 10}, "ack after nack")
			for i := 0; i < 3; i++ {
				if smp, err := s.Read(); err != nil || smp != first[i] {
					t.Fatalf("resent %+v %v, want %+v", smp, err, first[i])
				}
			}
			okAck(t, s, 3)
			checkT(t, m, "ack of 3")
			wantCounts(t, s, mm2.Counts{New: 7, Total: 7}, "ack of 3")
			rest := drainAck(t, s)
			for i, smp := range rest {
				if smp != first[3+i] {
					t.Fatalf("resent %+v, want %+v", smp, first[3+i])
				}
			}
			checkT(t, m, "drain")
		})
	}
}

// §12.15. The original's ACK erased the pending data of every source, so data
// another source had read but not yet had confirmed was erased unsent. Here
// each source's pending records survive every other source's ACK and NACK.
func TestAckOnOneSourceNeverErasesAnother(t *testing.T) {
	m, clk := openT(t, mm2.Options{})
	var ss []*mm2.Stream
	for src := mm2.Gateway; src <= mm2.CAN; src++ {
		s := configureT(t, m, src, 1, mm2.TSD, 100*time.Millisecond)
		for i := uint32(1); i <= 12; i++ {
			write(t, s, clk, uint32(src)*100+i)
		}
		for i := uint32(1); i <= 5; i++ {
			readWant(t, s, uint64(i), uint32(src)*100+i)
		}
		ss = append(ss, s)
	}
	checkT(t, m, "reads")
	for i, s := range ss {
		if i%2 == 0 {
			okAck(t, s, 5)
		} else if n, err := s.Nack(); err != nil || n != 5 {
			t.Fatalf("nack: %d %v", n, err)
		}
		checkT(t, m, "ack/nack of "+s.ID().String())
		for _, o := range ss[i+1:] {
			wantCounts(t, o, mm2.Counts{New: 7, Pending: 5, Total: 12}, "another source's ack")
		}
	}
	for i, s := range ss {
		src := uint32(s.ID().Source)
		if i%2 == 0 {
			readWant(t, s, 6, src*100+6)
		} else {
			readWant(t, s, 1, src*100+1)
		}
	}
}

// §12.16. The original kept 16-bit counters: an ACK with nothing pending took
// a count from 0 to 65535, and pending could exceed the data stored. Here the
// counts cannot go below zero (an empty ACK or NACK is ErrNoData and changes
// nothing), pending never exceeds the total, and a stream holds and counts
// more than 65,535 records exactly.
func TestCountsNeverUnderflowOrExceedData(t *testing.T) {
	prof := mm2.ProfileLinux
	prof.PoolBytes = 512 << 10 // 16,384 sectors: room for 98,304 samples
	m, clk := openT(t, mm2.Options{Profile: prof})
	s := configureT(t, m, mm2.CAN, 1, mm2.TSD, time.Millisecond)
	for i := 0; i < 3; i++ {
		if _, err := s.Ack(); !errors.Is(err, mm2.ErrNoData) {
			t.Fatalf("ack of nothing: %v", err)
		}
		if _, err := s.Nack(); !errors.Is(err, mm2.ErrNoData) {
			t.Fatalf("nack of nothing: %v", err)
		}
		wantCounts(t, s, mm2.Counts{}, "empty ack/nack")
	}
	checkT(t, m, "empty ack/nack")
	const n = 70_000
	for i := uint32(1); i <= n; i++ {
		clk.ms++
		okT(t, s.WriteTSD(i), "WriteTSD")
	}
	checkT(t, m, "70,000 writes")
	wantCounts(t, s, mm2.Counts{New: n, Total: n}, "70,000 writes")
	buf := make([]mm2.Sample, n)
	if got, err := s.ReadBulk(buf); err != nil || got != n || buf[n-1].Seq != n || buf[n-1].Value != n {
		t.Fatalf("bulk read: %d %v last %+v", got, err, buf[n-1])
	}
	wantCounts(t, s, mm2.Counts{Pending: n, Total: n}, "bulk read")
	if got, err := s.Nack(); err != nil || got != n {
		t.Fatalf("nack: %d %v", got, err)
	}
	wantCounts(t, s, mm2.Counts{New: n, Total: n}, "nack")
	if got, err := s.ReadBulk(buf); err != nil || got != n {
		t.Fatalf("bulk read: %d %v", got, err)
	}
	okAck(t, s, n)
	checkT(t, m, "ack of 70,000")
	for i := 0; i < 3; i++ {
		if _, err := s.Ack(); !errors.Is(err, mm2.ErrNoData) {
			t.Fatalf("second ack: %v", err)
		}
		wantCounts(t, s, mm2.Counts{}, "second ack")
	}
	if st := s.Stats(); st.Written != n || st.Acked != n {
		t.Fatalf("positions %+v", st)
	}

	// Under drop-oldest on a small pool, pending never exceeds what is stored.
	m2, clk2 := openT(t, mm2.Options{Profile: mm2.ProfileSTM32})
	a := configureT(t, m2, mm2.CAN, 1, mm2.TSD, 10*time.Millisecond)
	b := configureT(t, m2, mm2.CAN, 2, mm2.EVT, 0)
	for i := uint32(1); i <= 3000; i++ {
		clk2.ms += 10
		for _, err := range []error{a.WriteTSD(i), b.WriteEVT(i, clk2.ms)} {
			// ErrFull only while both streams have pending records
			// (drop-oldest never frees a sector behind pending data).
			if err != nil && (!errors.Is(err, mm2.ErrFull) || a.Counts().Pending == 0 || b.Counts().Pending == 0) {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		if i%50 == 0 {
			_, _ = a.ReadBulk(buf[:20])
			_, _ = b.Read()
		}
		if i%170 == 0 {
			_, _ = a.Nack()
			_, _ = b.Ack()
		}
		for _, s := range []*mm2.Stream{a, b} {
			// Positions differ by the counts plus the numbers dropped
			// from behind a batch in flight (gaps), never by less.
			c, st := s.Counts(), s.Stats()
			if c.New < 0 || c.Pending < 0 || c.Total != c.New+c.Pending ||
				st.Acked > st.Read || st.Read > st.Written ||
				uint64(c.Pending) > st.Read-st.Acked || uint64(c.New) > st.Written-st.Read ||
				st.Written-st.Acked-uint64(c.Total) > st.Drops.RAMFull {
				t.Fatalf("write %d: %v counts %+v positions %+v", i, s.ID(), c, st)
			}
		}
		if i%10 == 0 {
			checkT(t, m2, fmt.Sprintf("write %d", i))
		}
	}
	if m2.Stats().Drops.RAMFull == 0 {
		t.Fatal("no drops: the pool never filled")
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
