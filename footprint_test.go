package mm2_test

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// wicedBudget is the seed's all-in RAM budget of the Wi-Fi MCU.
const wicedBudget = 12_288

// configureAll configures n streams spread over the sources.
func configureAll(t testing.TB, m *mm2.Manager, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		kind, period := mm2.EVT, time.Duration(0)
		if i%2 == 0 {
			kind, period = mm2.TSD, time.Second
		}
		if _, err := m.Configure(mm2.StreamID{Source: mm2.Source(i % mm2.MaxSources), Sensor: uint32(i)}, kind, period); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFootprintWICEDWithinBudget: with all 100 streams configured, and with
// data in every sector of the pool, the wiced manager holds at most 12,288
// bytes, and the footprint does not grow with use.
func TestFootprintWICEDWithinBudget(t *testing.T) {
	m, clk := openT(t, mm2.Options{Profile: mm2.ProfileWICED})
	empty := m.Footprint()
	configureAll(t, m, 100)
	fp := m.Footprint()
	t.Logf("wiced footprint: %d bytes with 100 streams (budget %d, %d spare)", fp, wicedBudget, wicedBudget-fp)
	if fp > wicedBudget {
		t.Fatalf("wiced footprint %d bytes with 100 streams, over the %d-byte budget", fp, wicedBudget)
	}
	if fp != empty {
		t.Fatalf("footprint grew from %d to %d bytes while configuring: the stream table must be allocated at Open", empty, fp)
	}
	for _, id := range m.Streams() {
		s, err := m.Stream(id)
		okT(t, err, "Stream")
		for i := uint32(0); i < 30; i++ {
			write(t, s, clk, i)
		}
	}
	if st := m.Stats(); st.SectorsFree != 0 || m.Footprint() != fp || st.Footprint != fp {
		t.Fatalf("full pool: %d sectors free, footprint %d (stats %d), want 0 free and %d", st.SectorsFree, m.Footprint(), st.Footprint, fp)
	}
	checkT(t, m, "full pool")
}

// How far the bytes the allocator hands out may exceed Footprint. The MCU
// profiles allocate their tables once at Open, so only size-class rounding,
// the clock closure and the logger (which Footprint does not count) make the
// difference. The linux profile also grows its stream index by appending,
// which leaves the smaller arrays behind as garbage, and its 8,196-byte chain
// table lands in a 9,472-byte size class.
const (
	footprintTolerancePctFixed = 3
	footprintTolerancePctLinux = 5
)

// TestFootprintMatchesAllocation measures the heap bytes allocated by Open
// and 100 Configures (runtime.MemStats.TotalAlloc) and shows Footprint
// reports them: never more than was allocated, and at most a few per cent
// less (the tolerances above). For wiced the measured bytes themselves are
// within the budget.
func TestFootprintMatchesAllocation(t *testing.T) {
	for _, prof := range []mm2.Profile{mm2.ProfileWICED, mm2.ProfileSTM32, mm2.ProfileLinux} {
		t.Run(prof.Name, func(t *testing.T) {
			// The least of a few runs: another goroutine allocating during
			// a measurement can only add bytes.
			alloc, fp := uint64(1<<63), 0
			for run := 0; run < 5; run++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				m, err := mm2.Open(mm2.Options{Profile: prof})
				if err != nil {
					t.Fatal(err)
				}
				configureAll(t, m, 100)
				runtime.ReadMemStats(&after)
				alloc = min(alloc, after.TotalAlloc-before.TotalAlloc)
				fp = m.Footprint()
				_ = m.Close()
			}
			over := 100 * (float64(alloc) - float64(fp)) / float64(fp)
			t.Logf("%s: Footprint %d bytes, allocated %d bytes (%+.2f %%)", prof.Name, fp, alloc, over)
			if uint64(fp) > alloc {
				t.Fatalf("Footprint %d bytes is more than the %d bytes allocated", fp, alloc)
			}
			tolerance := footprintTolerancePctFixed
			if prof.MaxStreams > 256 {
				tolerance = footprintTolerancePctLinux
			}
			if over > float64(tolerance) {
				t.Fatalf("allocated %d bytes, %.2f %% more than Footprint %d (tolerance %d %%)", alloc, over, fp, tolerance)
			}
			if prof.BudgetBytes > 0 && alloc > uint64(prof.BudgetBytes) {
				t.Fatalf("allocated %d bytes, over the budget of %d", alloc, prof.BudgetBytes)
			}
		})
	}
}

// TestOpenRefusesWICEDOverBudget raises the wiced pool one sector at a time:
// every configuration Open accepts fits the budget with all its streams
// configured, and the first one that would not fit is refused.
func TestOpenRefusesWICEDOverBudget(t *testing.T) {
	prof := mm2.ProfileWICED
	for ; ; prof.PoolBytes += prof.SectorSize {
		m, err := mm2.Open(mm2.Options{Profile: prof})
		if err != nil {
			if !errors.Is(err, mm2.ErrInvalidArgument) {
				t.Fatalf("pool %d bytes: %v, want ErrInvalidArgument", prof.PoolBytes, err)
			}
			t.Logf("largest wiced pool that fits: %d bytes; %d refused: %v", prof.PoolBytes-prof.SectorSize, prof.PoolBytes, err)
			break
		}
		configureAll(t, m, prof.MaxStreams)
		if fp := m.Footprint(); fp > prof.BudgetBytes {
			t.Fatalf("pool %d bytes accepted but the footprint is %d, over %d", prof.PoolBytes, fp, prof.BudgetBytes)
		}
		_ = m.Close()
		if prof.PoolBytes > 2*wicedBudget {
			t.Fatal("Open never refused a pool over the budget")
		}
	}
	for _, o := range []mm2.Options{
		{Profile: func() mm2.Profile { p := mm2.ProfileWICED; p.PoolBytes = 8 << 10; return p }()},
		{Profile: func() mm2.Profile { p := mm2.ProfileWICED; p.MaxStreams = 300; return p }()},
	} {
		if m, err := mm2.Open(o); !errors.Is(err, mm2.ErrInvalidArgument) || m != nil {
			t.Fatalf("pool %d, %d streams: Open = %v, %v; want ErrInvalidArgument", o.Profile.PoolBytes, o.Profile.MaxStreams, m, err)
		}
	}
}
