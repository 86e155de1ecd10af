package mm2_test

// The test kit of the root package: one clock, one way to open a manager
// (every manager a test opens and leaves open must pass Check when the test
// ends, and is closed), one way to drain a stream, and the small helpers
// the tests share.
//
// The production bugs of SPEC §12 are not tested here: each is one numbered
// scenario of internal/selftest (tests 101–116, mapped item by item at the
// top of internal/selftest/bugs.go), which runs for every profile on both
// backends under go test and in the field as `mm2 selftest`. What needs
// the package's internals stays here: TestChainWalkIsBounded
// (bugs_internal_test.go) corrupts the chain table and shows every walk
// ends (§12 item 12).

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// kitEpoch is where every test clock starts (2023-11-14).
const kitEpoch = 1_700_000_000_000

// testClock is the injected clock of the root tests, in UTC milliseconds
// from kitEpoch. Every reading moves it on by step ms first (0: only the
// test moves it), so a store writing on its own gets distinct times. It is
// atomic: writers on several goroutines may share it, and the benchmarks
// pay the same for it as the manager pays for any clock.
type testClock struct {
	ms   atomic.Int64
	step int64
}

// newClock returns a clock at kitEpoch that moves on by step ms per reading.
func newClock(step int64) *testClock {
	c := &testClock{step: step}
	c.ms.Store(kitEpoch)
	return c
}

// now is the clock as Options.Clock.
func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Add(c.step)) }

// at is the time in ms, without moving the clock.
func (c *testClock) at() int64 { return c.ms.Load() }

// add moves the clock by d ms and returns the new time.
func (c *testClock) add(d int64) int64 { return c.ms.Add(d) }

// set puts the clock at ms.
func (c *testClock) set(ms int64) { c.ms.Store(ms) }

// storeKey names a store: its filesystem (nil: the operating system's) and
// directory.
type storeKey struct {
	fs  vfs.FS
	dir string
}

// opens counts the Opens of each store (storeKey to *atomic.Int64).
var opens sync.Map

// openStore is the one way the root tests open a manager: on fsys (nil:
// mm2.Open, the mock backend or the operating system's files). A manager
// still open when the test ends must pass Check, whatever the test did to
// it, and is closed; except one whose store a later Open took over: it
// stands for a process that crashed, and its files are the later one's
// (Check reads them).
func openStore(tb testing.TB, o mm2.Options, fsys vfs.FS) *mm2.Manager {
	tb.Helper()
	gen, taken := int64(0), func() bool { return false }
	if o.Dir != "" {
		c, _ := opens.LoadOrStore(storeKey{fsys, o.Dir}, new(atomic.Int64))
		n := c.(*atomic.Int64)
		gen = n.Add(1)
		taken = func() bool { return n.Load() != gen }
	}
	var m *mm2.Manager
	var err error
	if fsys == nil {
		m, err = mm2.Open(o)
	} else {
		m, err = mm2.OpenFS(o, fsys)
	}
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if mm2.Closed(m) {
			return
		}
		if taken() {
			_ = m.Close()
			return
		}
		if err := m.Check(); err != nil {
			tb.Errorf("Check at the end of the test: %v", err)
		}
		_ = m.Close()
	})
	return m
}

// openT opens a manager with a test clock (one the test moves) unless o has
// a clock; MCU profiles get UTC at once.
func openT(tb testing.TB, o mm2.Options) (*mm2.Manager, *testClock) {
	tb.Helper()
	clk := newClock(0)
	if o.Clock == nil {
		o.Clock = clk.now
	}
	m := openStore(tb, o, nil)
	m.SetUTCAvailable(true)
	return m, clk
}

// mustOpen opens the store of opts on fsys and checks it at once.
func mustOpen(tb testing.TB, opts mm2.Options, fsys vfs.FS) *mm2.Manager {
	tb.Helper()
	m := openStore(tb, opts, fsys)
	checkT(tb, m, "Open")
	return m
}

// diskOpts is a small linux store on clk so tests spill and rotate quickly.
func diskOpts(clk *testClock) mm2.Options {
	p := mm2.ProfileLinux
	p.PoolBytes = 1 << 10 // 32 sectors
	return mm2.Options{Profile: p, Dir: "store", SegmentBytes: 4 << 10, DiskCapBytes: 64 << 10, Clock: clk.now}
}

// drainHow says how drain reads a stream. The zero value marks every
// record read with ReadBulk, 37 at a time, and leaves them pending.
type drainHow struct {
	ack   bool         // then acknowledge everything pending
	peek  bool         // look with Peek instead: every record stays unread
	check *mm2.Manager // run Check after every read
	// buf is the ReadBulk buffer (nil: 37 records); with discard set,
	// drain returns nothing, so a benchmark draining with its timer stopped
	// leaves no garbage behind.
	buf     []mm2.Sample
	discard bool
}

// drain reads every unread record of s, as h says, and returns them.
func drain(tb testing.TB, s *mm2.Stream, h drainHow) []mm2.Sample {
	tb.Helper()
	var all []mm2.Sample
	buf := h.buf
	if buf == nil {
		buf = make([]mm2.Sample, 37)
	}
	for i := 0; ; i++ {
		var n int
		var err error
		if h.peek {
			buf[0], err = s.Peek(i)
			n = 1
		} else {
			n, err = s.ReadBulk(buf)
		}
		if errors.Is(err, mm2.ErrNoData) {
			break
		}
		if err != nil {
			tb.Fatalf("%v: drain: %v", s.ID(), err)
		}
		if !h.discard {
			all = append(all, buf[:n]...)
		}
		if h.check != nil {
			checkT(tb, h.check, "a read while draining")
		}
	}
	if h.ack && s.Counts().Pending > 0 {
		_, err := s.Ack()
		okT(tb, err, "Ack")
	}
	return all
}

// drainID is drain of the stream id of m.
func drainID(tb testing.TB, m *mm2.Manager, id mm2.StreamID, h drainHow) []mm2.Sample {
	tb.Helper()
	return drain(tb, mustStream(tb, m, id), h)
}

func mustStream(tb testing.TB, m *mm2.Manager, id mm2.StreamID) *mm2.Stream {
	tb.Helper()
	s, err := m.Stream(id)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func configureT(tb testing.TB, m *mm2.Manager, src mm2.Source, sensor uint32, kind mm2.Kind, period time.Duration) *mm2.Stream {
	tb.Helper()
	s, err := m.Configure(mm2.StreamID{Source: src, Sensor: sensor}, kind, period)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// checkT fails the test with every invariant violation Check finds.
func checkT(tb testing.TB, m *mm2.Manager, step string) {
	tb.Helper()
	if err := m.Check(); err != nil {
		tb.Fatalf("Check after %s:\n%v", step, err)
	}
}

func okT(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

func okAck(tb testing.TB, s *mm2.Stream, want int) {
	tb.Helper()
	if n, err := s.Ack(); err != nil || n != want {
		tb.Fatalf("%v: ack = %d, %v; want %d", s.ID(), n, err, want)
	}
}

// readWant reads one record and fails unless it has the given Seq and value.
func readWant(tb testing.TB, s *mm2.Stream, seq uint64, value uint32) mm2.Sample {
	tb.Helper()
	smp, err := s.Read()
	if err != nil {
		tb.Fatalf("%v: read of seq %d: %v", s.ID(), seq, err)
	}
	if smp.Seq != seq || smp.Value != value {
		tb.Fatalf("%v: read %+v, want seq %d value %d", s.ID(), smp, seq, value)
	}
	return smp
}

// write stores one record of the stream's kind: TSD from the clock (which it
// advances by one period), EVT at the clock's time (one ms on).
func write(tb testing.TB, s *mm2.Stream, clk *testClock, v uint32) {
	tb.Helper()
	var err error
	if s.Kind() == mm2.TSD {
		clk.add(s.Stats().Period)
		err = s.WriteTSD(v)
	} else {
		err = s.WriteEVT(v, clk.add(1))
	}
	if err != nil {
		tb.Fatalf("%v: write %d: %v", s.ID(), v, err)
	}
}

var bothKinds = []mm2.Kind{mm2.TSD, mm2.EVT}

func periodOf(k mm2.Kind) time.Duration {
	if k == mm2.TSD {
		return 100 * time.Millisecond
	}
	return 0
}
