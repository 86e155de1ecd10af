package layout

import (
	"math"
	"testing"
)

func TestTSDSectorHoldsSixValuesIn32Bytes(t *testing.T) {
	if got := TSDCap(32); got != 6 {
		t.Fatalf("TSDCap(32) = %d, want 6", got)
	}
	sec := make([]byte, 32)
	PutBase(sec, 1_700_000_000_123)
	for i := 0; i < 6; i++ {
		PutTSDValue(sec, i, uint32(i*7+1))
	}
	if Base(sec) != 1_700_000_000_123 {
		t.Fatalf("base = %d", Base(sec))
	}
	for i := 0; i < 6; i++ {
		if v := TSDValue(sec, i); v != uint32(i*7+1) {
			t.Fatalf("value %d = %d", i, v)
		}
	}
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
