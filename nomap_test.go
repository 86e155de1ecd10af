package mm2_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// noMapFS hides the Mapper of the filesystem underneath: a store on a
// filesystem that cannot map files runs without its crash journal.
type noMapFS struct{ vfs.FS }

// A store without a journal (its filesystem cannot map files) still
// recovers consistently from power cuts: counts match what the files hold.
func TestPowerCutsWithoutJournalKeepCountsRight(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 3))
			clk := newClock(100)
			opts := diskOpts(clk)
			mem := vfs.NewMem()
			buf := make([]mm2.Sample, 50)
			for life := range 6 {
				m := mustOpen(t, opts, noMapFS{mem})
				var hs []*mm2.Stream
				for i := range 3 {
					h, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, mm2.TSD, 100*time.Millisecond)
					if err != nil {
						t.Fatal(err)
					}
					hs = append(hs, h)
				}
				for step := range 300 {
					h := hs[rng.IntN(len(hs))]
					switch r := rng.IntN(10); {
					case r < 6:
						if err := h.WriteTSD(rng.Uint32()); err != nil && !errors.Is(err, mm2.ErrFull) {
							t.Fatal(err)
						}
					case r < 8:
						if _, err := h.ReadBulk(buf); err != nil && !errors.Is(err, mm2.ErrNoData) {
							t.Fatalf("life %d step %d: %v", life, step, err)
						}
					case r < 9:
						_, _ = h.Ack()
					default:
						if rng.IntN(4) == 0 {
							if err := m.PowerDown(t.Context()); err != nil {
								t.Fatal(err)
							}
							if err := m.PowerAbort(); err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := m.Check(); err != nil {
						t.Fatalf("life %d step %d: %v", life, step, err)
					}
				}
				mem = mem.CrashClone(vfs.CrashModes()[rng.IntN(4)], rng)
			}
		})
	}
}
