package mm2_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// backToBack are write patterns faster than a 1,000 ms period: the clock
// standing still, advancing 1 ms a write, and advancing 499 ms (just under
// half a period) a write.
var backToBack = []struct {
	name    string
	advance int64
}{{"clock still", 0}, {"1 ms a write", 1}, {"499 ms a write", 499}}

// faster are steady rates between 1x and 2x of a 1,000 ms period, for the
// disk tier test.
var faster = []struct {
	name    string
	advance int64
}{{"667 ms a write", 667}, {"870 ms a write", 870}}

// writeBurst writes n TSD samples to s, advancing clk by adv after each,
// and returns their true write times.
func writeBurst(t *testing.T, s *mm2.Stream, clk *testClock, n int, adv int64) []int64 {
	t.Helper()
	truth := make([]int64, n)
	for i := range truth {
		truth[i] = clk.at()
		if err := s.WriteTSD(uint32(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		clk.add(adv)
	}
	return truth
}

// checkStamps reads every unread sample of s (Peek first, then Read) and
// checks values, sequence numbers from first, and derived times within
// ±period/2 of truth; it returns the samples.
func checkStamps(t *testing.T, s *mm2.Stream, first uint64, truth []int64, periodMs int64) []mm2.Sample {
	t.Helper()
	var got []mm2.Sample
	for i := range truth {
		peek, err := s.Peek(0)
		if err != nil {
			t.Fatalf("Peek %d: %v", i, err)
		}
		smp, err := s.Read()
		if err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		if peek != smp {
			t.Fatalf("sample %d: Peek %+v, Read %+v", i, peek, smp)
		}
		if smp.Seq != first+uint64(i) || smp.Value != uint32(i) {
			t.Fatalf("sample %d: %+v, want seq %d value %d", i, smp, first+uint64(i), i)
		}
		if d := smp.UTCms - truth[i]; 2*max(d, -d) > periodMs {
			t.Fatalf("sample %d written at %d stamped %d: %d ms off, more than half of %d ms", i, truth[i], smp.UTCms, d, periodMs)
		}
		got = append(got, smp)
	}
	if _, err := s.Read(); !errors.Is(err, mm2.ErrNoData) {
		t.Fatalf("a sample beyond the %d written: %v", len(truth), err)
	}
	return got
}

// TestTSDBackToBackFillsSixPerSector: 60 TSD writes made faster than the
// period take 10 sectors (6 samples each, R-11) on every profile, every
// derived timestamp stays within ±period/2 of its write, and the
// footprint does not change. Writes at a steady rate between 1x and 2x the
// period's fill every sector but the first (which the stream opens before
// it is seen to run fast).
func TestTSDBackToBackFillsSixPerSector(t *testing.T) {
	const periodMs = 1000
	for _, p := range mm2.Profiles() {
		for _, c := range backToBack {
			t.Run(p.Name+"/"+c.name, func(t *testing.T) {
				m, clk := openT(t, mm2.Options{Profile: p})
				s := configureT(t, m, mm2.Gateway, 1, mm2.TSD, periodMs*time.Millisecond)
				before := m.Stats()
				truth := writeBurst(t, s, clk, 60, c.advance)
				st := m.Stats()
				checkT(t, m, "after the burst")
				checkStamps(t, s, 1, truth, periodMs)
				if used := st.SectorsUsed - before.SectorsUsed; used != 10 {
					t.Fatalf("60 back-to-back writes took %d sectors, want 10", used)
				}
				if st.Allocations-before.Allocations != 10 || st.Footprint != before.Footprint || m.Footprint() != before.Footprint {
					t.Fatalf("allocations %d, footprint %d then %d", st.Allocations-before.Allocations, before.Footprint, st.Footprint)
				}
				if st.SpaceEfficiencyPct < 75 {
					t.Fatalf("space efficiency %.1f %%, want 75 %%", st.SpaceEfficiencyPct)
				}
				okAck(t, s, 60)
				// Back to the period: the stream keeps its promise after a burst.
				clk.add(periodMs)
				more := writeBurst(t, s, clk, 12, periodMs)
				checkStamps(t, s, 61, more, periodMs)
				if used := m.Stats().SectorsUsed; used != 2 {
					t.Fatalf("12 samples at the period after the burst take %d sectors, want 2", used)
				}
			})
		}
	}
}

// TestTSDFasterThanPeriodFillsSectors: at a steady rate between 1x and 2x
// of the period (writes 870 ms and 667 ms apart with a 1,000 ms period),
// every sector after the first holds 6 samples, each within ±period/2.
func TestTSDFasterThanPeriodFillsSectors(t *testing.T) {
	const periodMs = 1000
	for _, p := range mm2.Profiles() {
		for _, interval := range []int64{870, 667, 501} {
			t.Run(fmt.Sprintf("%s/%dms", p.Name, interval), func(t *testing.T) {
				m, clk := openT(t, mm2.Options{Profile: p})
				s := configureT(t, m, mm2.Gateway, 1, mm2.TSD, periodMs*time.Millisecond)
				fills, _ := sectorFills(t, m, 61, func(i int) error {
					clk.add(interval)
					return s.WriteTSD(uint32(i))
				})
				if len(fills) != 10 || fills[0] > 5 {
					t.Fatalf("sector fills %v: want a first sector, then nine of 6", fills)
				}
				for i, f := range fills[1:] {
					if f != minTSDPerSector {
						t.Fatalf("sector %d holds %d samples (fills %v), want 6", i+1, f, fills)
					}
				}
				for i := 0; i < 61; i++ {
					smp, err := s.Read()
					okT(t, err, "Read")
					if truth := 1_700_000_000_000 + int64(i+1)*interval; 2*max(smp.UTCms-truth, truth-smp.UTCms) > periodMs {
						t.Fatalf("sample %d written at %d stamped %d", i, truth, smp.UTCms)
					}
				}
			})
		}
	}
}

// TestTSDBackToBackDiskTier: on the disk backend, samples written faster
// than the period keep their density in RAM and in segment frames, and
// their timestamps survive a power cut after a sync and a process crash
// (journal replay) and a clean reopen (checkpoint) exactly as they were
// read before. Under SyncAlways every record goes to the disk part.
func TestTSDBackToBackDiskTier(t *testing.T) {
	const periodMs = 1000
	id := mm2.StreamID{Source: mm2.Gateway, Sensor: 1}
	for _, c := range append(backToBack, faster...) {
		for _, tc := range []struct {
			n      int // 60: RAM only; 3,000: spilled to disk frames
			always bool
		}{{60, false}, {3000, false}, {60, true}} {
			n := tc.n
			t.Run(fmt.Sprintf("%s/%d/always=%v", c.name, n, tc.always), func(t *testing.T) {
				clk := newClock(0)
				p := mm2.ProfileLinux
				p.PoolBytes = 1 << 10 // 32 sectors: 3,000 samples spill
				opts := mm2.Options{Profile: p, Dir: "store", SegmentBytes: 64 << 10, DiskCapBytes: 1 << 20, Clock: clk.now}
				if tc.always {
					opts.Sync = mm2.SyncAlways()
				}
				inRAM := n == 60 && !tc.always
				wantSectors := 10
				if c.advance >= periodMs/2 && c.advance != 499 {
					wantSectors = 11 // the first sector opens before the stream is seen to run fast
				}
				mem := vfs.NewMem()
				m := mustOpen(t, opts, mem)
				s, err := m.Configure(id, mm2.TSD, periodMs*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				truth := writeBurst(t, s, clk, n, c.advance)
				st := m.Stats()
				if inRAM && st.SectorsUsed != wantSectors {
					t.Fatalf("60 writes took %d sectors, want %d", st.SectorsUsed, wantSectors)
				}
				t.Logf("%d samples: %d sectors, %d records in %d bytes on disk", n, st.SectorsUsed, st.DiskRecords, st.DiskBytes)
				// A full frame holds 256 samples in 48 + 1,024 bytes.
				if !inRAM && (st.DiskRecords == 0 || float64(st.DiskBytes) > 1.1*float64(4*st.DiskRecords)) {
					t.Fatalf("%d records on disk take %d bytes", st.DiskRecords, st.DiskBytes)
				}
				before := checkStamps(t, s, 1, truth, periodMs)
				// A power cut now keeps what was synced; a process crash (the
				// manager abandoned, mem reopened) everything written; then a
				// clean Close and Open restores from the checkpoint.
				okT(t, m.Sync(), "Sync")
				crashed := mem.CrashClone(vfs.CrashSynced, nil)
				reopen := func(name string, fsys vfs.FS) *mm2.Manager {
					m2 := mustOpen(t, opts, fsys)
					s2, err := m2.Stream(id)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					after := checkStamps(t, s2, 1, truth, periodMs)
					for i := range before {
						if after[i] != before[i] {
							t.Fatalf("%s: sample %d read %+v before, %+v after", name, i, before[i], after[i])
						}
					}
					if inRAM && m2.Stats().SectorsUsed > wantSectors {
						t.Fatalf("%s: the 60 samples take %d sectors after Open, want %d", name, m2.Stats().SectorsUsed, wantSectors)
					}
					if _, err := s2.Nack(); err != nil {
						t.Fatal(err)
					}
					return m2
				}
				okT(t, reopen("power cut", crashed).Close(), "Close")
				okT(t, reopen("process crash", mem).Close(), "Close")
				okT(t, reopen("clean reopen", mem).Close(), "Close")
			})
		}
	}
}

// TestDropOldestReadsStepBases: with the pool full and the writer holding
// only pending records, drop-oldest frees the stream whose oldest sector is
// oldest by time, also when that sector is stepped or fast (its header word
// holds the step above the base).
func TestDropOldestReadsStepBases(t *testing.T) {
	const periodMs = 1000
	for _, old := range []struct {
		name    string
		advance int64
	}{{"stepped", 0}, {"fast", 667}} {
		t.Run(old.name, func(t *testing.T) {
			m, clk := openT(t, mm2.Options{Profile: mm2.ProfileSTM32, Overflow: mm2.DropOldest})
			a := configureT(t, m, mm2.Gateway, 1, mm2.TSD, periodMs*time.Millisecond)
			b := configureT(t, m, mm2.Gateway, 2, mm2.TSD, periodMs*time.Millisecond)
			w := configureT(t, m, mm2.CAN, 3, mm2.TSD, periodMs*time.Millisecond)
			// a: the oldest, in sectors with a step of their own (0 ms or
			// 667 ms after a first periodic sector).
			writeBurst(t, a, clk, 20, old.advance)
			clk.add(60_000)
			writeBurst(t, b, clk, 6, periodMs) // b: newer, periodic
			// w fills the pool, reading each sample so that all of its own
			// are pending and none of them can be dropped.
			for i := 0; m.Stats().SectorsFree > 0; i++ {
				clk.add(periodMs)
				okT(t, w.WriteTSD(uint32(i)), "fill")
				_, err := w.Read()
				okT(t, err, "Read")
			}
			for i := 0; i < 7; i++ { // at least one new sector for w
				clk.add(periodMs)
				okT(t, w.WriteTSD(uint32(i)), "write on a full pool")
				_, err := w.Read()
				okT(t, err, "Read")
			}
			checkT(t, m, "after the drop")
			if da, db := a.Stats().Drops.RAMFull, b.Stats().Drops.RAMFull; da == 0 || db != 0 {
				t.Fatalf("dropped %d of the older stream's samples and %d of the newer one's", da, db)
			}
		})
	}
}
