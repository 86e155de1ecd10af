package mm2_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// Density the seed reached: 6 TSD samples or 2 events (12 bytes each)
// in a 32-byte sector.
const (
	minTSDPerSector = 6
	minEVTPerSector = 2
)

// sectorFills writes n records with write and returns, for every sector that
// filled up, how many records it took: a sector is full when the next write
// has to open a new one (SectorsUsed grows). It also returns the stats at
// the end.
func sectorFills(t *testing.T, m *mm2.Manager, n int, write func(i int) error) ([]int, mm2.Stats) {
	t.Helper()
	var fills []int
	used, inSector := m.Stats().SectorsUsed, 0
	for i := 0; i < n; i++ {
		okT(t, write(i), "write")
		if u := m.Stats().SectorsUsed; u != used {
			if used > 0 {
				fills = append(fills, inSector)
			}
			used, inSector = u, 0
		}
		inSector++
	}
	checkT(t, m, "writes")
	return fills, m.Stats()
}

// TestFullSectorsHoldAtLeastSeedDensity: every full sector holds at least 6
// TSD samples or 2 events, for event timestamps from dense to the worst
// case (deltas needing a 10-byte varint), and Stats reports the space
// efficiency.
func TestFullSectorsHoldAtLeastSeedDensity(t *testing.T) {
	t.Run("tsd", func(t *testing.T) {
		m, clk := openT(t, mm2.Options{})
		s := configureT(t, m, mm2.CAN, 1, mm2.TSD, 100*time.Millisecond)
		fills, st := sectorFills(t, m, 6*200, func(i int) error {
			clk.add(100)
			return s.WriteTSD(uint32(i))
		})
		for i, f := range fills {
			if f < minTSDPerSector {
				t.Fatalf("sector %d filled with %d samples, want at least %d", i, f, minTSDPerSector)
			}
		}
		t.Logf("tsd: %d records in %d sectors, space efficiency %.1f %%", st.StoredRecords, st.SectorsUsed, st.SpaceEfficiencyPct)
		if st.SectorsUsed != 200 || st.SpaceEfficiencyPct < 75 {
			t.Fatalf("1,200 samples in %d sectors at %.1f %%, want 200 sectors and 75 %%", st.SectorsUsed, st.SpaceEfficiencyPct)
		}
	})
	rng := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct {
		name    string
		next    func(prev int64) int64
		minEff  float64 // space efficiency of full sectors at least
		minFill int
	}{
		{"evt/1ms apart", func(p int64) int64 { return p + 1 }, 150, 4},
		{"evt/1s apart", func(p int64) int64 { return p + 1000 }, 150, 4},
		{"evt/random within a day", func(p int64) int64 { return p + rng.Int64N(86_400_000) - 43_200_000 }, 112, 3},
		{"evt/random over int64", func(int64) int64 { return int64(rng.Uint64()) }, 75, minEVTPerSector},
		{"evt/alternating extremes", func(p int64) int64 {
			if p >= 0 {
				return math.MinInt64
			}
			return math.MaxInt64
		}, 75, minEVTPerSector},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := openT(t, mm2.Options{})
			s := configureT(t, m, mm2.CAN, 2, mm2.EVT, 0)
			ts := int64(1_700_000_000_000)
			fills, st := sectorFills(t, m, 1000, func(i int) error {
				ts = c.next(ts)
				return s.WriteEVT(uint32(i), ts)
			})
			least := math.MaxInt
			for _, f := range fills {
				least = min(least, f)
			}
			t.Logf("%s: %d events in %d sectors, fewest in a full sector %d, space efficiency %.1f %%",
				c.name, st.StoredRecords, st.SectorsUsed, least, st.SpaceEfficiencyPct)
			if least < c.minFill {
				t.Fatalf("a full sector holds %d events, want at least %d", least, c.minFill)
			}
			if full := 100 * float64(12*c.minFill) / 32; st.SpaceEfficiencyPct < min(c.minEff, full)-1 {
				t.Fatalf("space efficiency %.1f %%, want at least %.1f %%", st.SpaceEfficiencyPct, c.minEff)
			}
		})
	}
}

// TestTSDTimestampsWithinHalfPeriod drives the clock with random jitter of up
// to ±period/2 around the nominal sample times, random gaps and bursts of
// samples written faster than the period (the clock standing still or
// advancing less than half a period a write), and checks every derived
// timestamp is within ±period/2 of the true write time. It also checks
// the rule itself: a sector's second sample come 0 <= δ < period/2 after
// the first (δ < period in a fast sector: one opened by a sample more than
// half a period before the previous sector's next slot, or after a stepped
// sector) sets the sector's step to δ; otherwise a sample starts a new
// sector exactly when its sector is full or its true time is more than half
// a period from the next derived slot (the previous sample's time plus the
// sector's step), or an ACK emptied the stream. The first sample of a
// sector carries its true time, and so does one that sets the step. The
// periods here keep every δ within the largest step (65,531 ms).
func TestTSDTimestampsWithinHalfPeriod(t *testing.T) {
	for _, periodMs := range []int64{1, 7, 100, 1000, 60_000} {
		t.Run(fmt.Sprintf("period=%dms", periodMs), func(t *testing.T) {
			m, clk := openT(t, mm2.Options{})
			s := configureT(t, m, mm2.Gateway, 1, mm2.TSD, time.Duration(periodMs)*time.Millisecond)
			rng := rand.New(rand.NewPCG(uint64(periodMs), 3))
			nominal := clk.at()
			var prev, first mm2.Sample
			step, fast := periodMs, false
			inSector, gaps, bursts, newSectors, stepped, fastSectors, worst := 0, 0, 0, 0, 0, 0, int64(0)
			burst := 0
			for i := 1; i <= 5000; i++ {
				switch {
				case burst > 0: // faster than the period: 0 to period/2 later
					burst--
					nominal += rng.Int64N(periodMs/2 + 1)
					clk.set(nominal)
				default:
					nominal += periodMs
					if rng.IntN(50) == 0 { // a gap: the sensor was silent for a while
						nominal += periodMs * rng.Int64N(40)
						nominal += rng.Int64N(periodMs)
						gaps++
					}
					if rng.IntN(20) == 0 {
						burst = 1 + rng.IntN(15)
						bursts++
					}
					clk.set(nominal + rng.Int64N(periodMs+1) - periodMs/2)
				}
				truth := clk.at()
				allocs := m.Stats().Allocations
				okT(t, s.WriteTSD(uint32(i)), "WriteTSD")
				smp, err := s.Read()
				okT(t, err, "Read")
				if smp.Seq != uint64(i) || smp.Value != uint32(i) {
					t.Fatalf("sample %d: read %+v", i, smp)
				}
				d := smp.UTCms - truth
				if 2*max(d, -d) > periodMs {
					t.Fatalf("sample %d written at %d stamped %d: %d ms off, more than half of %d", i, truth, smp.UTCms, d, periodMs)
				}
				worst = max(worst, d, -d)
				opened := m.Stats().Allocations != allocs
				slot := prev.UTCms + step
				delta := truth - first.UTCms
				setsStep := inSector == 1 && delta >= 0 && delta < periodMs && (2*delta < periodMs || fast)
				// After an ACK of everything the chain is empty: the tail sector
				// was freed with the rest.
				emptied := i == 1 || (i-1)%200 == 0
				want := emptied || inSector == minTSDPerSector ||
					(2*max(truth-slot, slot-truth) > periodMs && !setsStep)
				if opened != want {
					t.Fatalf("sample %d at %d, next slot %d, %d in the sector: new sector %v, want %v",
						i, truth, slot, inSector, opened, want)
				}
				switch {
				case opened:
					newSectors++
					fast = !emptied && (step != periodMs || 2*(slot-truth) > periodMs)
					if fast {
						fastSectors++
					}
					inSector, step, first = 0, periodMs, smp
					if smp.UTCms != truth {
						t.Fatalf("sample %d opens a sector stamped %d, written at %d", i, smp.UTCms, truth)
					}
				case setsStep:
					stepped++
					step = delta
					if smp.UTCms != truth {
						t.Fatalf("sample %d sets its sector's step, stamped %d, written at %d", i, smp.UTCms, truth)
					}
				}
				inSector++
				prev = smp
				if i%200 == 0 {
					okAck(t, s, 200)
					checkT(t, m, fmt.Sprintf("sample %d", i))
				}
			}
			if bursts == 0 || stepped == 0 || fastSectors == 0 {
				t.Fatalf("%d bursts, %d stepped, %d fast sectors: the early-sample rule was not exercised", bursts, stepped, fastSectors)
			}
			t.Logf("period %d ms: 5000 samples, %d gaps, %d bursts, %d sectors (%d stepped, %d fast), worst offset %d ms",
				periodMs, gaps, bursts, newSectors, stepped, fastSectors, worst)
		})
	}
}
