package layout

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

func TestTSDSectorHoldsSixValuesIn32Bytes(t *testing.T) {
	if got := TSDCap(32); got != 6 {
		t.Fatalf("TSDCap(32) = %d, want 6", got)
	}
	const base, period = 1_700_000_000_123, 100
	sec := make([]byte, 32)
	TSDStart(sec, base, 1, false)
	for i := 1; i < 6; i++ {
		if !TSDAppend(sec, i, period, period, uint32(i*7+1), base+int64(i)*period+period/2) {
			t.Fatalf("value %d refused", i)
		}
	}
	if TSDFits(sec, 6, period, period, base+6*period) {
		t.Fatal("a seventh value fits in 32 bytes")
	}
	if b, step, off := TSDHeader(sec, period); b != base || step != period || off != HeaderSize || Base(sec) != base {
		t.Fatalf("header: base %d step %d offset %d, Base %d", b, step, off, Base(sec))
	}
	for i := 0; i < 6; i++ {
		if v, utc := TSDRecord(sec, i, period); v != uint32(i*7+1) || utc != base+int64(i)*period {
			t.Fatalf("record %d = %d at %d", i, v, utc)
		}
	}
}

// TestTSDSectorSteps: a second sample more than half a period early sets
// the sector's step to its interval (0 included); later samples are taken
// within half a period of base + i*step, and the sector still holds six.
func TestTSDSectorSteps(t *testing.T) {
	const period = 1000
	for _, c := range []struct {
		name  string
		base  int64
		delta int64 // interval of the writes
		step  int64 // the sector's step afterwards
	}{
		{"same ms", 1_700_000_000_000, 0, 0},
		{"1 ms apart", 1_700_000_000_000, 1, 1},
		{"just under half a period", 1_700_000_000_000, 499, 499},
		{"negative base", -62_135_596_800_000, 3, 3},
		{"largest 48-bit base", 1<<47 - 1 - 6*period, 2, 2},
		{"smallest 48-bit base", -1 << 47, 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			sec := make([]byte, 32)
			TSDStart(sec, c.base, 0, false)
			for i := 1; i < 6; i++ {
				if !TSDAppend(sec, i, period, period, uint32(i), c.base+int64(i)*c.delta) {
					t.Fatalf("value %d at +%d refused", i, int64(i)*c.delta)
				}
			}
			base, step, _ := TSDHeader(sec, period)
			if base != c.base || step != c.step {
				t.Fatalf("base %d step %d, want %d and %d", base, step, c.base, c.step)
			}
			for i := 0; i < 6; i++ {
				v, utc := TSDRecord(sec, i, period)
				if d := utc - (c.base + int64(i)*c.delta); v != uint32(i) || 2*max(d, -d) > period {
					t.Fatalf("record %d = %d at %d, %d ms from its write", i, v, utc, d)
				}
			}
		})
	}
	t.Run("exact restore rebuilds a stepped sector", func(t *testing.T) {
		src, dst := make([]byte, 32), make([]byte, 32)
		TSDStart(src, 5000, 0, false)
		times := []int64{5000, 5003, 5000, 5400, 4700, 5012}
		for i := 1; i < 6; i++ {
			if !TSDAppend(src, i, period, period, uint32(i), times[i]) {
				t.Fatalf("live value %d refused", i)
			}
		}
		_, first := TSDRecord(src, 0, period)
		TSDStart(dst, first, 0, false)
		for i := 1; i < 6; i++ {
			v, utc := TSDRecord(src, i, period)
			if !TSDAppend(dst, i, period, 0, v, utc) {
				t.Fatalf("restored value %d at %d refused", i, utc)
			}
		}
		for i := 0; i < 6; i++ {
			v1, t1 := TSDRecord(src, i, period)
			v2, t2 := TSDRecord(dst, i, period)
			if v1 != v2 || t1 != t2 {
				t.Fatalf("record %d: %d at %d restored as %d at %d", i, v1, t1, v2, t2)
			}
		}
	})
	t.Run("half a period early is periodic", func(t *testing.T) {
		sec := make([]byte, 32)
		TSDStart(sec, 10_000, 0, false)
		if !TSDAppend(sec, 1, period, period, 1, 10_000+period/2) {
			t.Fatal("refused")
		}
		if _, step, _ := TSDHeader(sec, period); step != period {
			t.Fatalf("step %d, want the period", step)
		}
		if _, utc := TSDRecord(sec, 1, period); utc != 10_000+period {
			t.Fatalf("stamped %d", utc)
		}
	})
	t.Run("no step", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			base   int64
			period int64
			second int64
		}{
			{"earlier than the base", 10_000, 1000, 9_999},
			{"step over MaxTSDStep", 10_000, 200_000, 10_000 + MaxTSDStep + 1},
			{"half a period to a period early, not fast", 10_000, 1000, 10_000 + 300},
			{"third sample of a periodic sector", 0, 0, 0}, // checked below
		} {
			sec := make([]byte, 32)
			TSDStart(sec, c.base, 0, false)
			if c.period == 0 {
				TSDStart(sec, 10_000, 0, false)
				if !TSDAppend(sec, 1, 1000, 1000, 1, 11_000) || TSDAppend(sec, 2, 1000, 1000, 2, 11_001) {
					t.Fatalf("%s: the third sample's step was taken", c.name)
				}
				continue
			}
			if c.name == "half a period to a period early, not fast" {
				// Taken in its periodic slot (300 ms early): no step.
				if !TSDAppend(sec, 1, 600, 600, 1, c.second) {
					t.Fatalf("%s: refused", c.name)
				}
				if _, step, _ := TSDHeader(sec, 600); step != 600 {
					t.Fatalf("%s: step %d", c.name, step)
				}
				continue
			}
			if TSDAppend(sec, 1, c.period, c.period, 1, c.second) {
				t.Fatalf("%s: taken", c.name)
			}
			if _, step, _ := TSDHeader(sec, c.period); step != c.period {
				t.Fatalf("%s: a refused sample changed the step to %d", c.name, step)
			}
		}
	})
}

// TestTSDWideBase: a base outside 48 bits is kept whole (5 values in 32
// bytes, step the period) and never takes a step.
func TestTSDWideBase(t *testing.T) {
	const period = 10
	for _, base := range []int64{1 << 47, -1<<47 - 1, math.MaxInt64 - 4*period, math.MinInt64} {
		sec := make([]byte, 32)
		TSDStart(sec, base, 9, false)
		if TSDAppend(sec, 1, period, period, 1, base+1) {
			t.Fatalf("base %d: an early sample set a step", base)
		}
		for i := 1; i < 5; i++ {
			if !TSDAppend(sec, i, period, 0, uint32(i), base+int64(i)*period) {
				t.Fatalf("base %d: value %d refused", base, i)
			}
		}
		if TSDFits(sec, 5, period, period, base+5*period) {
			t.Fatalf("base %d: a sixth value fits", base)
		}
		for i := 0; i < 5; i++ {
			v, utc := TSDRecord(sec, i, period)
			if want := uint32(i) + 9*uint32(btoi(i == 0)); v != want || utc != base+int64(i)*period {
				t.Fatalf("base %d: record %d = %d at %d", base, i, v, utc)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestEVTSectorAlwaysHoldsTwoEvents(t *testing.T) {
	// The worst case: the second event is as far from the base as int64 allows.
	for _, second := range []int64{0, 1, -1, 1000, math.MaxInt64, math.MinInt64} {
		sec := make([]byte, 32)
		used, ok := EVTAppend(sec, 0, 1, 0)
		if !ok {
			t.Fatal("first event does not fit")
		}
		if _, ok = EVTAppend(sec, used, 2, second); !ok {
			t.Fatalf("second event at %d does not fit", second)
		}
	}
}

func TestEVTRoundTripWithDeltas(t *testing.T) {
	sec := make([]byte, 32)
	times := []int64{0, 1000, 2000, 3000}
	used := 0
	for i, ts := range times {
		var ok bool
		used, ok = EVTAppend(sec, used, uint32(100+i), ts)
		if !ok {
			t.Fatalf("event %d does not fit (used %d)", i, used)
		}
	}
	if _, ok := EVTAppend(sec, used, 9, 4000); ok {
		t.Fatal("fifth event fit in 32 bytes; expected 4 at 1 s spacing")
	}
	off := HeaderSize
	for i, ts := range times {
		v, got, next, err := EVTDecode(sec, off)
		if err != nil || v != uint32(100+i) || got != ts {
			t.Fatalf("event %d: v=%d ts=%d err=%v", i, v, got, err)
		}
		o, err := EVTOffset(sec, i)
		if err != nil || o != off {
			t.Fatalf("EVTOffset(%d) = %d, %v; want %d", i, o, err, off)
		}
		off = next
	}
}

func TestEVTFitsAgreesWithAppend(t *testing.T) {
	sec := make([]byte, 32)
	used := 0
	for i := int64(0); ; i++ {
		ts := i * 77777
		fits := EVTFits(sec, used, ts)
		n, ok := EVTAppend(sec, used, 1, ts)
		if fits != ok {
			t.Fatalf("EVTFits=%v EVTAppend ok=%v at used=%d", fits, ok, used)
		}
		if !ok {
			return
		}
		used = n
	}
}

func FuzzEVTDecode(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2}, 8)
	f.Add(make([]byte, 32), 8)
	f.Fuzz(func(t *testing.T, sec []byte, off int) {
		if off < 0 || off > len(sec) {
			return
		}
		_, _, next, err := EVTDecode(sec, off)
		if err == nil && (next <= off || next > len(sec)) {
			t.Fatalf("next %d out of range (off %d, len %d)", next, off, len(sec))
		}
	})
}

// TestTSDAppendPeriodicAgrees: the inlined fast path takes a sample only
// where TSDAppend would, writing the same bytes, over random sectors and
// times (periodic, stepped and wide bases, live and exact tolerances), and
// every sample taken is stamped within tol/2 of its time.
func TestTSDAppendPeriodicAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	bases := []int64{1_700_000_000_000, 0, -5, 1<<47 - 3000, -1 << 47, 1 << 47, math.MinInt64}
	for trial := 0; trial < 20000; trial++ {
		period := []int64{1, 7, 1000, 60_000, 200_000}[rng.IntN(5)]
		tol := period * int64(rng.IntN(2))
		a, b := make([]byte, 32), make([]byte, 32)
		utc := bases[rng.IntN(len(bases))]
		TSDStart(a, utc, 0, rng.IntN(2) == 0)
		copy(b, a)
		for c := 1; c < 8; c++ {
			switch rng.IntN(4) {
			case 0:
				utc += period
			case 1:
				utc += rng.Int64N(period)
			case 2:
				utc += rng.Int64N(3*period+1) - period
			}
			fast := TSDAppendPeriodic(b, c, period, tol, uint32(c), utc)
			full := TSDAppend(a, c, period, tol, uint32(c), utc)
			if !fast {
				fast = TSDAppend(b, c, period, tol, uint32(c), utc)
			}
			if fast != full || !bytes.Equal(a, b) {
				t.Fatalf("period %d tol %d value %d at %d: fast path %v, TSDAppend %v\n% x\n% x", period, tol, c, utc, fast, full, b, a)
			}
			if !full {
				break
			}
			// Within tol/2 of its write: exact when restoring (tol 0).
			if _, got := TSDRecord(a, c, period); 2*max(got-utc, utc-got) > tol {
				t.Fatalf("period %d tol %d: value %d written at %d stamped %d", period, tol, c, utc, got)
			}
		}
	}
}

// TestTSDFastSector: a sector opened while the stream runs faster than its
// period (the previous sector stepped, or the opening sample more than half
// a period before its slot) takes a step from a second sample up to a
// period early; one whose second sample comes in its periodic slot
// becomes an ordinary periodic sector; restoring (tol 0) rebuilds a step of
// up to a period in any sector.
func TestTSDFastSector(t *testing.T) {
	const period, t0 = 1000, 1_700_000_000_000
	prev := make([]byte, 32)
	TSDStart(prev, t0, 0, false)
	if !TSDAppend(prev, 1, period, period, 1, t0+period-400) {
		t.Fatal("periodic second sample refused")
	}
	if TSDOpensFast(prev, 2, period, t0+2*period-500) || !TSDOpensFast(prev, 2, period, t0+2*period-501) {
		t.Fatal("a sample more than half a period before the slot opens a fast sector, and only that")
	}
	stepped := make([]byte, 32)
	TSDStart(stepped, t0, 0, false)
	TSDAppend(stepped, 1, period, period, 1, t0+3)
	if !TSDOpensFast(stepped, 6, period, t0+10_000) {
		t.Fatal("a stepped sector does not make the next one fast")
	}
	for _, c := range []struct {
		name  string
		fast  bool
		tol   int64
		delta int64
		step  int64 // -1: refused
	}{
		{"fast, 600 ms", true, period, 600, 600},
		{"fast, 999 ms", true, period, 999, 999},
		{"fast, a period", true, period, period, period},
		{"fast, 1,600 ms", true, period, 1600, -1},
		{"not fast, 600 ms: periodic slot", false, period, 600, period},
		{"not fast, 499 ms", false, period, 499, 499},
		{"restore, 600 ms", false, 0, 600, 600},
		{"restore, a period", false, 0, period, period},
		{"restore, 1,001 ms", false, 0, period + 1, -1},
	} {
		sec := make([]byte, 32)
		TSDStart(sec, t0, 7, c.fast)
		if b, step, off := TSDHeader(sec, period); b != t0 || step != period || off != HeaderSize {
			t.Fatalf("%s: opened as base %d step %d offset %d", c.name, b, step, off)
		}
		ok := TSDAppend(sec, 1, period, c.tol, 8, t0+c.delta)
		if ok != (c.step >= 0) {
			t.Fatalf("%s: taken %v", c.name, ok)
		}
		if !ok {
			continue
		}
		base, step, _ := TSDHeader(sec, period)
		if base != t0 || step != c.step {
			t.Fatalf("%s: base %d step %d, want step %d", c.name, base, step, c.step)
		}
		if c.step == period && binary.LittleEndian.Uint64(sec) != uint64(t0) {
			t.Fatalf("%s: a sector taken periodic keeps header %#x", c.name, binary.LittleEndian.Uint64(sec))
		}
		for i := 2; i < 6; i++ { // the rest follow the step
			if !TSDAppend(sec, i, period, period, uint32(i), t0+int64(i)*c.step) {
				t.Fatalf("%s: value %d refused", c.name, i)
			}
		}
		if v, utc := TSDRecord(sec, 5, period); v != 5 || utc != t0+5*c.step {
			t.Fatalf("%s: record 5 = %d at %d", c.name, v, utc)
		}
	}
}
