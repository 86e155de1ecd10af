package selftest

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/sim"
)

func init() {
	register(Test{Num: 12, Name: "stress", Run: testStress})
}

// parallelFrom is the operation count from which the stress test splits its
// operations into independent seeded runs, one per CPU.
const parallelFrom = 1_000_000

// 12: seeded random operations (internal/sim's Stress) with Check() and a
// comparison with a reference model after every one; no invariant violation.
func testStress(e *Env) {
	if e.Backend() != Mock {
		// sim.StressConfig opens its managers without a directory, so the
		// disk run drives sim's Model (which takes Options) itself.
		stressModel(e)
		return
	}
	ops := e.cfg.Ops
	runs := 1
	if ops >= parallelFrom {
		runs = max(1, runtime.GOMAXPROCS(0))
	}
	var (
		mu      sync.Mutex
		done    = make([]int, runs)
		results = make([]sim.StressResult, runs)
		wg      sync.WaitGroup
	)
	start := time.Now()
	for i := range runs {
		n := ops / runs
		if i == 0 {
			n += ops % runs
		}
		cfg := sim.StressConfig{Ops: n, Seed: e.cfg.Seed + uint64(i), Profiles: []mm2.Profile{e.Profile()}, Stop: e.cfg.Stop}
		if e.cfg.Progress != nil {
			cfg.Progress = func(d, _ int) {
				mu.Lock()
				defer mu.Unlock()
				done[i] = d
				sum := 0
				for _, x := range done {
					sum += x
				}
				e.cfg.Progress(sum, ops)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = sim.Stress(cfg)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var total sim.StressResult
	for _, r := range results {
		total.Ops += r.Ops
		total.Violations += r.Violations
		total.Writes += r.Writes
		total.Compared += r.Compared
		total.Drops += r.Drops
		total.FullErrors += r.FullErrors
		if total.FirstError == nil {
			total.FirstError = r.FirstError
		}
	}
	violations := e.tamper(total.Violations)
	e.Fig("operations", total.Ops)
	e.Fig("invariant_violations", violations)
	e.Fig("writes", total.Writes)
	e.Fig("compared", total.Compared)
	e.Fig("drops", total.Drops)
	e.Fig("full", total.FullErrors)
	e.Fig("seed", e.cfg.Seed)
	if runs > 1 {
		e.Fig("runs", runs)
	}
	e.Fig("ops_per_sec", fmt.Sprintf("%.0f", float64(total.Ops)/max(elapsed.Seconds(), 1e-9)))
	if violations > 0 {
		e.Failf("%d invariant violations; first: %v", violations, total.FirstError)
	}
	if total.Ops < ops && e.stopped() {
		e.Skip(fmt.Sprintf("interrupted after %d of %d operations (no violation)", total.Ops, ops))
	}
	e.True(total.Ops == ops, "ran %d of %d operations", total.Ops, ops)
	e.True(total.Writes > 0 && total.Compared > 0, "the run wrote %d and compared %d records", total.Writes, total.Compared)
}

// stressModel is test 12 on a backend sim.Stress cannot open: seeded random
// operations through sim.Model, with Check() and the model comparison after
// every one.
func stressModel(e *Env) {
	ops := e.cfg.Ops
	opts := e.Options()
	md, err := sim.NewModel(opts)
	e.NoErr(err, "Open")
	e.opened = append(e.opened, &opened{m: md.M, label: "manager 1: " + e.Profile().Name + "/" + string(e.Backend()) + " (stress)"})
	md.SetUTC(true)
	rng := rand.New(rand.NewPCG(e.cfg.Seed, 12))
	for i := range 32 {
		id := sid(mm2.Source(i%mm2.MaxSources), uint32(i/mm2.MaxSources))
		if i%2 == 0 {
			err = md.Configure(id, mm2.TSD, ms([]int{10, 100, 1000}[rng.IntN(3)]))
		} else {
			err = md.Configure(id, mm2.EVT, 0)
		}
		e.NoErr(err, "configure")
	}
	e.NoErr(md.SetGPS(mm2.CAN, gps(900, 901, 902, 903)), "SetGPS")
	start := time.Now()
	violations, done := 0, 0
	var first error
	buf := make([]mm2.Sample, 64)
	for ; done < ops; done++ {
		s := md.Streams[rng.IntN(len(md.Streams))]
		switch r := rng.IntN(100); {
		case r < 50 && s.Kind == mm2.TSD:
			md.Now += s.Period
			err = md.WriteTSD(s, rng.Uint32())
		case r < 45:
			md.Now += rng.Int64N(50)
			err = md.WriteEVT(s, rng.Uint32(), md.Now)
		case r < 50:
			err = md.WriteGPS(s, rng.Uint32(), mm2.GPSFix{Latitude: rng.Float32(), Speed: 20})
		case r < 60:
			err = md.Read(s)
		case r < 70:
			err = md.ReadBulk(s, buf[:1+rng.IntN(len(buf))])
		case r < 74:
			err = md.Peek(s, rng.IntN(40))
		case r < 90:
			err = md.Ack(s)
		default:
			err = md.Nack(s)
		}
		if err == nil {
			err = md.Check()
		}
		if err != nil {
			violations, first = 1, fmt.Errorf("op %d: %w", done, err)
			break
		}
		if done%4096 == 0 {
			if e.cfg.Progress != nil {
				e.cfg.Progress(done, ops)
			}
			if e.stopped() {
				done++ // this operation ran
				break
			}
		}
	}
	violations = e.tamper(violations)
	e.Fig("operations", done)
	e.Fig("invariant_violations", violations)
	e.Fig("writes", md.Writes)
	e.Fig("compared", md.Compared)
	e.Fig("drops", md.Dropped)
	e.Fig("seed", e.cfg.Seed)
	e.Fig("ops_per_sec", fmt.Sprintf("%.0f", float64(done)/max(time.Since(start).Seconds(), 1e-9)))
	if violations > 0 {
		e.Failf("%d invariant violations; first: %v", violations, first)
	}
	if done < ops && e.stopped() {
		e.Skip(fmt.Sprintf("interrupted after %d of %d operations (no violation)", done, ops))
	}
	e.True(done == ops, "ran %d of %d operations", done, ops)
}
