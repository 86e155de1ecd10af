package gateway

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mm2go/mm2"
)

// StepMs is the vehicle's time step: the period of its fastest signal.
const StepMs = 10

// Vehicle writes the signal table into a manager as simulated time goes by.
// It is driven by one goroutine (Step); Attach points it at a new manager
// after a restart.
type Vehicle struct {
	Sig []Signal

	groups []tsdGroup // TSD signals by period
	fix    []int      // the GPS fix sensors, in GPSConfig order
	evt    []int      // EVT signals written on their own (not fix sensors)
	next   []int64    // next event time per signal (EVT only)
	rng    *rand.Rand

	m     *mm2.Manager
	h     []*mm2.Stream // handles of the attached manager, by signal
	batch []mm2.Write   // the TSD samples due at one step (reused)
	who   []int         // the signal of each

	// Per signal, since Attach: records written successfully, and refusals.
	N       []uint64
	Refused []uint64
	// RefusedWhy counts refusals by error text, over the whole run.
	RefusedWhy map[string]uint64
}

type tsdGroup struct {
	periodMs int64
	idx      []int
}

// NewVehicle builds the vehicle for a signal table; seed drives the event
// times.
func NewVehicle(sig []Signal, seed uint64) *Vehicle {
	v := &Vehicle{Sig: sig, next: make([]int64, len(sig)), rng: rand.New(rand.NewPCG(seed, 0x6761746577617931)),
		N: make([]uint64, len(sig)), Refused: make([]uint64, len(sig)), RefusedWhy: map[string]uint64{}}
	byPeriod := map[int64]int{}
	fix := map[uint32]int{}
	for i, s := range sig {
		switch {
		case s.Kind == mm2.TSD:
			p := s.Period.Milliseconds()
			g, ok := byPeriod[p]
			if !ok {
				g = len(v.groups)
				byPeriod[p] = g
				v.groups = append(v.groups, tsdGroup{periodMs: p})
			}
			v.groups[g].idx = append(v.groups[g].idx, i)
		case s.Fix:
			fix[s.ID.Sensor] = i
		default:
			v.evt = append(v.evt, i)
		}
	}
	for _, s := range []uint32{GPSConfig.Latitude, GPSConfig.Longitude, GPSConfig.Altitude, GPSConfig.Speed} {
		if i, ok := fix[s]; ok {
			v.fix = append(v.fix, i)
		}
	}
	return v
}

// Attach configures every stream (and the GPS configuration) on m, as a
// gateway does at every start, and resets the per-start counters. t is the
// current simulated time: event times are scheduled from it.
func (v *Vehicle) Attach(m *mm2.Manager, t int64) error {
	v.m = m
	v.h = make([]*mm2.Stream, len(v.Sig))
	for i, s := range v.Sig {
		period := s.Period
		if s.Kind == mm2.EVT {
			period = 0
		}
		h, err := m.Configure(s.ID, s.Kind, period)
		if err != nil {
			return fmt.Errorf("configure %v (%s): %w", s.ID, s.Name, err)
		}
		v.h[i] = h
		v.N[i], v.Refused[i] = 0, 0
	}
	if len(v.fix) == 4 {
		if err := m.SetGPS(mm2.Gateway, GPSConfig); err != nil {
			return fmt.Errorf("gps configuration: %w", err)
		}
	}
	for _, i := range v.evt {
		v.next[i] = t + v.interval(i)
	}
	return nil
}

// interval draws the time to a signal's next event: exponential around its
// mean, on the step grid, at least one step.
func (v *Vehicle) interval(i int) int64 {
	mean := float64(v.Sig[i].Period.Milliseconds())
	d := int64(v.rng.ExpFloat64()*mean) / StepMs * StepMs
	return max(d, StepMs)
}

func (v *Vehicle) count(i int, err error) {
	if err == nil {
		v.N[i]++
		return
	}
	v.Refused[i]++
	why := err.Error()
	if errors.Is(err, mm2.ErrFull) {
		why = "full"
	} else if errors.Is(err, mm2.ErrPoweringDown) {
		why = "powering down"
	}
	v.RefusedWhy[why]++
}

// Step writes everything due at simulated time t (ms, a multiple of StepMs).
// The manager's clock must read t. The TSD samples due together (a bus
// cycle) go in one batch.
func (v *Vehicle) Step(t int64) {
	v.batch, v.who = v.batch[:0], v.who[:0]
	for _, g := range v.groups {
		if t%g.periodMs != 0 {
			continue
		}
		for _, i := range g.idx {
			v.batch = append(v.batch, mm2.Write{Stream: v.h[i], Value: Expected(v.Sig[i].ID, t), UTCms: t})
			v.who = append(v.who, i)
		}
	}
	v.writeBatch()
	if t%1000 == 0 {
		for _, i := range v.fix {
			v.count(i, v.h[i].WriteEVT(Expected(v.Sig[i].ID, t), t))
		}
	}
	for _, i := range v.evt {
		if t < v.next[i] {
			continue
		}
		v.next[i] = t + v.interval(i)
		val := Expected(v.Sig[i].ID, t)
		if !v.Sig[i].GPS || len(v.fix) != 4 {
			v.count(i, v.h[i].WriteEVT(val, t))
			continue
		}
		err := v.h[i].WriteEventWithGPS(val, FixAt(t))
		v.count(i, err)
		for _, f := range v.fix {
			v.count(f, err)
		}
	}
}

// writeBatch writes the step's TSD samples with one Manager.WriteBatch and
// counts each as a write of its own would be: a batch stopped by a refusal
// goes on after the refused sample.
func (v *Vehicle) writeBatch() {
	for at := 0; at < len(v.batch); {
		n, err := v.m.WriteBatch(v.batch[at:])
		for _, i := range v.who[at : at+n] {
			v.count(i, nil)
		}
		at += n
		if err == nil {
			return
		}
		if at == len(v.batch) {
			return // all stored, not yet durable: only under SyncAlways, which the simulation does not run
		}
		v.count(v.who[at], err)
		at++
	}
}

// FixAt is the vehicle's GPS fix at t, as the model gives it.
func FixAt(t int64) mm2.GPSFix {
	at := func(s uint32) float32 {
		return math.Float32frombits(Expected(mm2.StreamID{Source: mm2.Gateway, Sensor: s}, t))
	}
	return mm2.GPSFix{Latitude: at(SensorLatitude), Longitude: at(SensorLongitude),
		Altitude: at(SensorAltitude), Speed: at(SensorSpeed)}
}
