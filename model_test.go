package mm2_test

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/sim"
	"github.com/mm2go/mm2/vfs"
	"pgregory.net/rapid"
)

var soak = flag.Bool("soak", false, "run the long variants of randomized tests")

func TestMain(m *testing.M) {
	flag.Parse()
	// Longer action sequences than rapid's default reach deeper states (pool
	// exhaustion needs hundreds of writes). An explicit -rapid.steps wins.
	// -short (scripts/test.sh's run under the race detector) runs smaller
	// sequences; the full sizes run without it.
	steps, checks := "400", ""
	switch {
	case *soak:
		steps = "4000"
	case testing.Short():
		checks = "40"
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rapid.steps"] {
		_ = flag.Set("rapid.steps", steps)
	}
	if !set["rapid.checks"] && checks != "" {
		_ = flag.Set("rapid.checks", checks)
	}
	os.Exit(m.Run())
}

// modelTotals adds up what the state machine reached, so a run that never
// fills the pool or never reads fails instead of passing vacuously.
type modelTotals struct{ actions, writes, compared, drops, full, behind int64 }

func (tot *modelTotals) add(md *sim.Model) {
	tot.writes += md.Writes
	tot.compared += md.Compared
	tot.drops += md.DropEvents
	tot.full += md.FullErrors
	tot.behind += md.DropsBehind
}

func must(t *rapid.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pick(t *rapid.T, md *sim.Model) *sim.MStream {
	if len(md.Streams) == 0 {
		t.Skip("no stream yet")
	}
	return rapid.SampledFrom(md.Streams).Draw(t, "stream")
}

func modelActions(md *sim.Model, tot *modelTotals) map[string]func(*rapid.T) {
	sensor := rapid.Uint32Range(0, 12)
	source := rapid.Uint8Range(0, mm2.MaxSources-1)
	return map[string]func(*rapid.T){
		"": func(t *rapid.T) {
			tot.actions++
			must(t, md.Check())
		},
		"configure": func(t *rapid.T) {
			id := mm2.StreamID{Source: mm2.Source(source.Draw(t, "source")), Sensor: sensor.Draw(t, "sensor")}
			if rapid.Bool().Draw(t, "tsd") {
				ms := rapid.SampledFrom([]int{10, 100, 1000}).Draw(t, "period")
				must(t, md.Configure(id, mm2.TSD, time.Duration(ms)*time.Millisecond))
			} else {
				must(t, md.Configure(id, mm2.EVT, 0))
			}
		},
		"clock": func(t *rapid.T) { md.Now += rapid.Int64Range(0, 3000).Draw(t, "advance") },
		"writeTSD": func(t *rapid.T) {
			s := pick(t, md)
			for n := rapid.IntRange(1, 40).Draw(t, "burst"); n > 0; n-- {
				md.Now += s.Period + rapid.Int64Range(-s.Period/3, s.Period/3).Draw(t, "jitter")
				must(t, md.WriteTSD(s, rapid.Uint32().Draw(t, "value")))
			}
		},
		"writeEVT": func(t *rapid.T) {
			s := pick(t, md)
			for n := rapid.IntRange(1, 20).Draw(t, "burst"); n > 0; n-- {
				ts := rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(md.Now-5000, md.Now+5000),
					rapid.Int64Range(math.MinInt64, math.MaxInt64)).Draw(t, "ts")
				must(t, md.WriteEVT(s, rapid.Uint32().Draw(t, "value"), ts))
			}
		},
		"writeBatch": func(t *rapid.T) {
			s := pick(t, md)
			for n := rapid.IntRange(1, 20).Draw(t, "burst"); n > 0; n-- {
				var ts int64
				if s.Kind == mm2.TSD {
					md.Now += s.Period + rapid.Int64Range(-s.Period/3, s.Period/3).Draw(t, "jitter")
					ts = md.Now
				} else {
					ts = rapid.Int64Range(md.Now-5000, md.Now+5000).Draw(t, "ts")
				}
				must(t, md.WriteBatch(s, rapid.Uint32().Draw(t, "value"), ts))
			}
		},
		"writeBatchGroup": func(t *rapid.T) {
			s := pick(t, md)
			targets := []*sim.MStream{s}
			for _, o := range md.Streams {
				if o != s && o.Kind == s.Kind && len(targets) < 8 && rapid.Bool().Draw(t, "also") {
					targets = append(targets, o)
				}
			}
			vals := make([]uint32, len(targets))
			for i := range vals {
				vals[i] = rapid.Uint32().Draw(t, "value")
			}
			md.Now += rapid.Int64Range(1, 2000).Draw(t, "advance")
			ts := md.Now
			if s.Kind == mm2.EVT {
				ts = rapid.Int64Range(md.Now-5000, md.Now+5000).Draw(t, "ts")
			}
			must(t, md.WriteBatchGroup(targets, vals, ts))
		},
		"setGPS": func(t *rapid.T) {
			src := mm2.Source(source.Draw(t, "source"))
			must(t, md.SetGPS(src, mm2.GPSConfig{Latitude: 100, Longitude: 101, Altitude: 102, Speed: 103}))
		},
		"writeGPS": func(t *rapid.T) {
			s := pick(t, md)
			fix := mm2.GPSFix{Latitude: rapid.Float32().Draw(t, "lat"), Longitude: 8.5, Altitude: 400, Speed: 13}
			must(t, md.WriteGPS(s, rapid.Uint32().Draw(t, "value"), fix))
		},
		"read": func(t *rapid.T) { must(t, md.Read(pick(t, md))) },
		"readBulk": func(t *rapid.T) {
			s := pick(t, md)
			must(t, md.ReadBulk(s, make([]mm2.Sample, rapid.IntRange(0, 64).Draw(t, "size"))))
		},
		"peek": func(t *rapid.T) {
			s := pick(t, md)
			must(t, md.Peek(s, rapid.IntRange(0, 50).Draw(t, "i")))
		},
		"peekBulk": func(t *rapid.T) {
			s := pick(t, md)
			must(t, md.PeekBulk(s, make([]mm2.Sample, rapid.IntRange(1, 64).Draw(t, "size"))))
		},
		// Streams whose sensor is a multiple of 3 keep a batch in flight
		// whenever they hold data, as an uplink does for the length of a
		// send: an ACK or NACK is followed at once by the next batch, and
		// writes to them (and to others) meet a full pool behind it.
		"ack": func(t *rapid.T) {
			s := pick(t, md)
			must(t, md.Ack(s))
			holdBatch(t, md, s)
		},
		"nack": func(t *rapid.T) {
			s := pick(t, md)
			must(t, md.Nack(s))
			holdBatch(t, md, s)
		},
		"inflight": func(t *rapid.T) {
			for _, s := range md.Streams {
				holdBatch(t, md, s)
			}
		},
		"utc":   func(t *rapid.T) { md.SetUTC(rapid.IntRange(0, 9).Draw(t, "utc") > 0) },
		"power": func(t *rapid.T) { must(t, md.TogglePower()) },
	}
}

// holdBatch reads a batch of 1..8 records from a stream that keeps one in
// flight (sensor a multiple of 3) and has none.
func holdBatch(t *rapid.T, md *sim.Model, s *sim.MStream) {
	if s.ID.Sensor%3 != 0 || s.Pending != 0 || s.Unread() == 0 {
		return
	}
	must(t, md.ReadBulk(s, make([]mm2.Sample, rapid.IntRange(1, 8).Draw(t, "batch"))))
}

// modelProfiles are the profiles the state machine runs over. The linux
// pool is shrunk so exhaustion and drop-oldest are reached within a run.
func modelProfiles() map[string]mm2.Profile {
	small := mm2.ProfileLinux
	small.PoolBytes = 2 << 10
	small.MaxStreams = 40
	return map[string]mm2.Profile{"linux": small, "wiced": mm2.ProfileWICED, "stm32": mm2.ProfileSTM32}
}

func TestModelStateMachine(t *testing.T) {
	var tot modelTotals
	for name, prof := range modelProfiles() {
		for _, ov := range []mm2.Overflow{mm2.DropOldest, mm2.RejectNew} {
			t.Run(fmt.Sprintf("%s/overflow=%d", name, ov), func(t *testing.T) {
				rapid.Check(t, func(t *rapid.T) {
					md, err := sim.NewModel(mm2.Options{Profile: prof, Overflow: ov})
					if err != nil {
						t.Fatal(err)
					}
					defer tot.add(md)
					t.Repeat(modelActions(md, &tot))
				})
			})
		}
	}
	t.Logf("%d actions, Check() after each: %d writes, %d records compared, %d drop events (%d behind a batch in flight), %d ErrFull",
		tot.actions, tot.writes, tot.compared, tot.drops, tot.behind, tot.full)
	if !testing.Short() && tot.actions < 100_000 {
		t.Fatalf("only %d actions ran; the state machine must run at least 100,000", tot.actions)
	}
	// The short runs (under the race detector) are too few to be sure to
	// reach exhaustion; the full-size run, which scripts/test.sh also makes,
	// must.
	if !testing.Short() && (tot.drops == 0 || tot.behind == 0 || tot.full == 0 || tot.compared == 0) {
		t.Fatal("the run never dropped (behind a batch in flight), never hit ErrFull or never read: the model is not exercising the pool")
	}
}

// TestDiskModelStateMachine runs the state machine on the disk backend over
// the crash-simulating filesystem, with power-downs, clean reopens, crashes
// in every mode, a full disk and I/O errors added to the actions.
func TestDiskModelStateMachine(t *testing.T) {
	var tot modelTotals
	var reopens, crashes, diskErrs, segDrops int64
	prof := mm2.ProfileLinux
	prof.PoolBytes = 2 << 10
	prof.MaxStreams = 40
	type variant struct {
		sync     mm2.SyncPolicy
		overflow mm2.Overflow
		failing  bool // I/O errors most of the time: RAM and its drop policy take the writes
	}
	variants := map[string]variant{
		"always":                 {mm2.SyncAlways(), mm2.DropOldest, false},
		"on-power-down":          {mm2.SyncOnPowerDown(), mm2.DropOldest, false},
		"interval":               {mm2.SyncInterval(5 * time.Second), mm2.DropOldest, false},
		"interval-1s/reject-new": {mm2.SyncInterval(time.Second), mm2.RejectNew, false},
		"failing-disk":           {mm2.SyncOnPowerDown(), mm2.DropOldest, true},
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				md, err := sim.NewModel(mm2.Options{Profile: prof, Dir: "store", Sync: v.sync, Overflow: v.overflow,
					SegmentBytes: 4 << 10, DiskCapBytes: 4 << 20, JournalBytes: 8 << 10})
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					tot.add(md)
					reopens += md.Reopens
					crashes += md.Crashes
					diskErrs += md.DiskErrors
					segDrops += md.SegmentDrops
				}()
				actions := modelActions(md, &tot)
				eio := false // a failing disk stays failing across reopens and crashes
				actions["reopen"] = func(t *rapid.T) {
					must(t, md.Reopen())
					md.IOErrors(eio)
				}
				actions["crash"] = func(t *rapid.T) {
					mode := rapid.SampledFrom(vfs.CrashModes()).Draw(t, "mode")
					must(t, md.Crash(mode, rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))))
					md.IOErrors(eio)
				}
				actions["fillDisk"] = func(t *rapid.T) { md.FillDisk(rapid.Bool().Draw(t, "full"), rapid.Bool().Draw(t, "frees")) }
				actions["ioErrors"] = func(t *rapid.T) {
					eio = rapid.IntRange(0, 3).Draw(t, "eio") == 0 != v.failing
					md.IOErrors(eio)
				}
				t.Repeat(actions)
			})
		})
	}
	t.Logf("%d actions, Check() after each: %d writes, %d compared, %d reopens, %d crashes, %d disk errors, %d drops (%d behind a batch in flight), %d segment drops on a full disk",
		tot.actions, tot.writes, tot.compared, reopens, crashes, diskErrs, tot.drops, tot.behind, segDrops)
	if !testing.Short() && tot.actions < 100_000 {
		t.Fatalf("only %d actions ran; want at least 100,000", tot.actions)
	}
	if !testing.Short() && (crashes == 0 || reopens == 0 || diskErrs == 0) {
		t.Fatal("the run never crashed, reopened or met a disk error")
	}
}
